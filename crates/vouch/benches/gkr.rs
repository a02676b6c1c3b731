//! gkr proving benchmark: compiles generated test models (8-bit), proves one inference with
//! the sumcheck/GKR backend (public input and output, weights fixed in the key) and prints one
//! table row per model: trace size, setup, prove and verify times, proof size, peak RSS, the
//! interpreter's own time and the prover's overhead over it, and EZKL's measured prove time on
//! the same ONNX file where `../shared/ANCHORS.md` has one. Each row runs in its own child
//! process so the RSS is its own.
//!
//!     VOUCH_MODELS=/path/to/models cargo bench -p vouch --bench gkr [-- NAME_FILTER]
//!     cargo bench -p vouch --bench gkr -- --private [NAME_FILTER]   # input hidden (zero knowledge)
//!     cargo bench -p vouch --bench gkr -- --image 1280x720 [--private | --linked]

use std::path::PathBuf;
use std::time::Instant;

use vouch::backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch::gkr::backend::GkrBackend;
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

/// EZKL 23.0.5 prove seconds on the same files, this machine (`../shared/ANCHORS.md`).
fn ezkl_prove_s(name: &str) -> Option<f64> {
    match name {
        "mnist_mlp" => Some(6.9),
        "lenet5_mnist" => Some(62.0),
        _ => None,
    }
}

fn main() {
    let dir = PathBuf::from(std::env::var("VOUCH_MODELS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../models/out").to_string()
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let private = args.iter().any(|a| a == "--private");
    if let Some(i) = args.iter().position(|a| a == "--one") {
        one(&dir, &args[i + 1], private);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--image") {
        let linked = args.iter().any(|a| a == "--linked");
        image(&args[i + 1], private, linked);
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
        "| model | trace 2^k | setup s | prove s | verify ms | proof KiB | peak RSS MB | interpreter ms | prover / interpreter | EZKL prove s | speed-up vs EZKL | outputs = interpreter |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let exe = std::env::current_exe().expect("bench executable");
    for name in &names {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--one", name]);
        if private {
            cmd.arg("--private");
        }
        let out = cmd.env("VOUCH_MODELS", &dir).output().expect("child run");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            println!("| {name} | failed: {} |", err.lines().last().unwrap_or(""));
        }
    }
}

/// Input public, or private (hidden: a zero-knowledge proof); weights fixed, output public.
fn policy(private: bool) -> VisibilityPolicy {
    VisibilityPolicy {
        input: if private {
            Visibility::Private
        } else {
            Visibility::Public
        },
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

fn one(dir: &std::path::Path, name: &str, private: bool) {
    let policy = policy(private);
    let (pkg, inputs) = common::compiled_model(dir, name);
    let w: Witness = interp::run(&pkg.program, &inputs).expect("run").into();
    // The interpreter's own time: the median of several runs.
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            let _ = interp::run(&pkg.program, &inputs).expect("run");
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    let interp_ms = runs[runs.len() / 2];
    let backend = GkrBackend;
    let t0 = Instant::now();
    let (pk, vk) = match backend.setup(&pkg.program, policy) {
        Ok(k) => k,
        Err(e) => {
            println!("| {name} | unsupported: {e} |");
            return;
        }
    };
    let setup_s = t0.elapsed().as_secs_f64();
    if std::env::var("VOUCH_GKR_PLAN_ONLY").is_ok() {
        plan_stats(name, &pk.plan);
        return;
    }
    let t0 = Instant::now();
    let (st, proof) = backend.prove(&pk, &w).expect("prove");
    let prove_s = t0.elapsed().as_secs_f64();
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            backend.verify(&vk, &st, &proof).expect("verify");
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    let verify_ms = runs[runs.len() / 2];
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
    let (ezkl, speedup) = match ezkl_prove_s(name) {
        Some(e) => (format!("{e}"), format!("{:.0}x", e / prove_s)),
        None => ("-".into(), "-".into()),
    };
    let name = if private {
        format!("{name} (input private, zk)")
    } else {
        name.to_string()
    };
    let trace_vars = if pk.plan.zk {
        vouch::gkr::program::zk::committed_vars(&pk.plan).unwrap_or(0)
    } else {
        pk.plan.trace_vars
    };
    println!(
        "| {name} | {} | {setup_s:.3} | {prove_s:.3} | {verify_ms:.1} | {:.0} | {:.0} | {interp_ms:.2} | {:.0}x | {ezkl} | {speedup} | yes |",
        trace_vars,
        proof.to_bytes().len() as f64 / 1024.0,
        peak_rss_mb(),
        prove_s * 1e3 / interp_ms.max(1e-6),
    );
}

/// The edit part of an attested image edit on gkr: crop + bilinear resize to half + grayscale
/// of a `WxH` RGB image (`--image WxH`), with the original public or hidden: `--private`
/// commits to it inside the proof's trace, `--linked` proves against a linked commitment to
/// it (the commitment a camera signs; its cost is the "commit" column).
fn image(size: &str, private: bool, linked: bool) {
    let (w, h, recipe) = common::edit_recipe(size);
    let edits = vouch::image_ops::parse_edits(&recipe).expect("recipe");
    let program = vouch::image_ops::edit_program(w, h, 3, &edits).expect("program");
    let pixels: Vec<i64> = (0..w * h * 3)
        .map(|i| ((i * 2_654_435_761) >> 7) as i64 & 255)
        .collect();
    let input = vouch::ir::Tensor::new(vec![h, w, 3], pixels).expect("tensor");
    let t0 = Instant::now();
    let w_: Witness = interp::run(&program, &[input]).expect("run").into();
    let run_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut pol = policy(private);
    if linked {
        pol.input = Visibility::Hashed;
    }
    let (pk, vk) = GkrBackend.setup(&program, pol).expect("setup");
    let secret = vouch::gkr::link::LinkSecret([1; 32]);
    let t0 = Instant::now();
    if linked {
        let c = vouch::gkr::link::commit(&w_.values[program.inputs[0].index()], &secret);
        c.expect("camera commitment");
    }
    let commit_s = t0.elapsed().as_secs_f64();
    if std::env::var("VOUCH_GKR_PLAN_ONLY").is_ok() {
        if pk.plan.zk {
            println!(
                "committed vector 2^{}",
                vouch::gkr::program::zk::committed_vars(&pk.plan).unwrap_or(0)
            );
        }
        plan_stats(&format!("{w}x{h} edit"), &pk.plan);
        return;
    }
    let t0 = Instant::now();
    let (st, proof) = GkrBackend
        .prove_with_links(&pk, &w_, Some(&secret), None)
        .expect("prove");
    let prove_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    GkrBackend.verify(&vk, &st, &proof).expect("verify");
    let verify_ms = t0.elapsed().as_secs_f64() * 1e3;
    println!(
        "| {w}x{h} RGB (original {}) | {} | 2^{} | {run_ms:.0} | {commit_s:.2} | {prove_s:.2} | {verify_ms:.0} | {:.0} | {:.0} |",
        if linked {
            "hidden, linked commitment, zk"
        } else if private {
            "hidden, zk"
        } else {
            "public"
        },
        recipe.join(" "),
        if pk.plan.zk {
            vouch::gkr::program::zk::committed_vars(&pk.plan).unwrap_or(0)
        } else {
            pk.plan.trace_vars
        },
        proof.to_bytes().len() as f64 / 1024.0,
        peak_rss_mb()
    );
}

/// Where the trace goes (VOUCH_GKR_PLAN_ONLY=1): committed entries by column kind.
fn plan_stats(name: &str, plan: &vouch::gkr::program::Plan) {
    use std::collections::BTreeMap;
    use vouch::gkr::program::plan::Source;
    let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &plan.columns {
        if !matches!(c.source, Source::Committed) || c.loc.is_none() {
            continue;
        }
        let kind = c.name.rsplit('/').next().unwrap_or("").to_string();
        let kind = if c.name.contains('/') {
            kind
        } else {
            "activation".into()
        };
        if std::env::var("VOUCH_GKR_PLAN_ONLY").as_deref() == Ok("columns") {
            println!("    {:>10} {}", 1usize << c.vars(), c.name);
        }
        let e = by.entry(kind).or_default();
        e.0 += 1;
        e.1 += 1usize << c.vars();
    }
    println!(
        "{name}: trace 2^{}, {} constraints",
        plan.trace_vars,
        plan.constraints.len()
    );
    let mut v: Vec<_> = by.into_iter().collect();
    v.sort_by_key(|(_, (_, n))| std::cmp::Reverse(*n));
    for (k, (cols, n)) in v.iter().take(15) {
        println!(
            "  {k:>16}: {cols:>6} columns, {:>8.1} M entries (padded)",
            *n as f64 / 1e6
        );
    }
}
