//! halo2 proving benchmark: compiles generated test models (8-bit), proves one inference with
//! KZG on BN254 and prints one table row per (model, visibility policy): circuit size, setup,
//! prove and verify times, proof size and peak RSS. Each row runs in its own child process so
//! the RSS is its own. Uses a locally generated (insecure) SRS.
//!
//!     VOUCH_MODELS=/path/to/models cargo bench -p vouch --bench halo2 [-- NAME_FILTER]

use std::path::PathBuf;
use std::time::Instant;

use vouch::backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch::halo2::{plan, Halo2Backend, Srs};
use vouch::ir::interp;

mod common;
use common::peak_rss_mb;

const DEFAULT_MODELS: &[&str] = &[
    "digits_mlp",
    "mnist_mlp",
    "digits_cnn",
    "lenet5_mnist",
    "gpt2_block_t32_d64_random",
];

fn policies() -> Vec<(&'static str, VisibilityPolicy)> {
    vec![
        (
            "weights fixed",
            VisibilityPolicy {
                input: Visibility::Public,
                weights: Visibility::Fixed,
                output: Visibility::Public,
            },
        ),
        ("provider", VisibilityPolicy::provider()),
        ("client", VisibilityPolicy::client()),
    ]
}

fn main() {
    let dir = PathBuf::from(std::env::var("VOUCH_MODELS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../models/out").to_string()
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        let (name, label) = (&args[i + 1], &args[i + 2]);
        one(&dir, name, label);
        return;
    }
    let filter: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .cloned()
        .collect();
    let names: Vec<String> = if filter.is_empty() {
        DEFAULT_MODELS.iter().map(|s| s.to_string()).collect()
    } else {
        filter
    };
    println!(
        "| model | policy | k | rows | setup s | prove s | verify ms | proof B | peak RSS MB | outputs = interpreter |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let exe = std::env::current_exe().expect("bench executable");
    // VOUCH_BENCH_POLICY=provider (say) runs one policy only.
    let only = std::env::var("VOUCH_BENCH_POLICY").ok();
    for name in &names {
        for (label, _) in policies() {
            if only.as_deref().is_some_and(|o| o != label) {
                continue;
            }
            let out = std::process::Command::new(&exe)
                .args(["--one", name, label])
                .env("VOUCH_MODELS", &dir)
                .output()
                .expect("child run");
            print!("{}", String::from_utf8_lossy(&out.stdout));
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                println!(
                    "| {name} | {label} | failed: {} |",
                    err.lines().last().unwrap_or("")
                );
            }
        }
    }
}

fn one(dir: &std::path::Path, name: &str, label: &str) {
    let policy = policies()
        .into_iter()
        .find(|(l, _)| *l == label)
        .map(|p| p.1)
        .expect("known policy");
    let (pkg, inputs) = common::compiled_model(dir, name);
    let w: Witness = interp::run(&pkg.program, &inputs).expect("run").into();
    let p = match plan(&pkg.program, policy) {
        Ok(p) => p,
        Err(e) => {
            println!("| {name} | {label} | unsupported: {e} |");
            return;
        }
    };
    let backend = Halo2Backend {
        srs: Srs::InsecureDev,
    };
    // Parameter generation is a ceremony's job: keep it out of the setup time.
    backend.srs.params(p.k).expect("params");
    let t0 = Instant::now();
    let (pk, vk) = backend.setup(&pkg.program, policy).expect("setup");
    let setup_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let (st, proof) = backend.prove(&pk, &w).expect("prove");
    let prove_s = t0.elapsed().as_secs_f64();
    // A verifier checks many proofs with one key: the median of several runs, so one-time
    // costs (thread pool start, constant tables) stay out of the figure.
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            backend.verify(&vk, &st, &proof).expect("verify");
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    let verify_ms = runs[runs.len() / 2];
    // Public outputs must be the interpreter's, bit for bit (hashed outputs are checked by the
    // circuit against the same cells).
    for out in st
        .public
        .iter()
        .filter(|t| pkg.program.outputs.contains(&t.tensor))
    {
        assert_eq!(
            out.values,
            w.values[out.tensor.index()],
            "{name}: proven output differs from the interpreter"
        );
    }
    println!(
        "| {name} | {label} | {} | {} | {setup_s:.2} | {prove_s:.2} | {verify_ms:.1} | {} | {:.0} | yes |",
        p.k,
        p.rows.max(p.table_rows),
        proof.bytes.len(),
        peak_rss_mb()
    );
}
