//! Import benchmark: compiles every generated test model, runs the quantized program on the
//! onnxruntime reference input, and prints one table (compile time, interpreter time, peak RSS,
//! error of the quantized output against the reference) for two bit widths.
//!
//!     VOUCH_MODELS=/path/to/models cargo bench -p vouch --bench models [-- NAME_FILTER]
//!
//! Calibration: the held-out photos for 224x224 image models, else the reference input itself
//! (random-weight models have no data set of their own).

use std::path::{Path, PathBuf};
use std::time::Instant;

use vouch::model::{compile, program_samples, run, CompileOptions};
use vouch::npy;
use vouch::onnx::quantize::{argmax, QuantConfig};

mod common;
use common::peak_rss_mb;

fn main() {
    let dir = PathBuf::from(std::env::var("VOUCH_MODELS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../models/out").to_string()
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Each (model, configuration) runs in a child process so that peak RSS is its own.
    let child = args.iter().position(|a| a == "--one").map(|i| {
        (
            args.get(i + 1).cloned().unwrap_or_default(),
            args.get(i + 2).cloned().unwrap_or_default(),
        )
    });
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let manifest: serde_json::Value = match std::fs::read(dir.join("manifest.json")) {
        Ok(b) => serde_json::from_slice(&b).expect("manifest.json is JSON"),
        Err(_) => {
            eprintln!("no models at {} (set VOUCH_MODELS)", dir.display());
            return;
        }
    };
    let configs = [
        ("w8/a8", QuantConfig::default()),
        (
            "w12/a12",
            QuantConfig {
                weight_bits: 12,
                act_bits: 12,
                lut_bits: 16,
                ..QuantConfig::default()
            },
        ),
    ];
    if child.is_none() {
        println!(
        "| model | bits | params | IR nodes | compile s | interpreter ms | max rel err vs onnxruntime | top-1 agrees | peak RSS MB |"
    );
        println!("|---|---|---|---|---|---|---|---|---|");
    }
    for m in manifest["models"].as_array().into_iter().flatten() {
        let name = m["name"].as_str().unwrap_or("");
        match &child {
            Some((one, _)) if one != name => continue,
            None if filter.as_deref().is_some_and(|f| !name.contains(f)) => continue,
            _ => {}
        }
        let Some((input, output)) = reference(&dir, name) else {
            continue;
        };
        let photos = dir.join("data/photos224_x.npy");
        let image224 = m["inputs"]
            .as_object()
            .and_then(|o| o.values().next())
            .is_some_and(|s| {
                s.as_array()
                    .map(|a| a.len() == 4 && a[2] == 224)
                    .unwrap_or(false)
            });
        let calibration = if image224 && photos.exists() {
            photos
        } else {
            input.clone()
        };
        for (label, quant) in &configs {
            match &child {
                Some((_, c)) if c != label => continue,
                None => {
                    let exe = std::env::current_exe().expect("bench executable");
                    let out = std::process::Command::new(exe)
                        .args(["--one", name, label])
                        .env("VOUCH_MODELS", &dir)
                        .output()
                        .expect("child run");
                    print!("{}", String::from_utf8_lossy(&out.stdout));
                    continue;
                }
                _ => {}
            }
            let opts = CompileOptions {
                quant: quant.clone(),
                calibration: Some(calibration.clone()),
                max_calibration_samples: 0,
            };
            let t0 = Instant::now();
            let compiled = match compile(&dir.join(m["file"].as_str().unwrap_or("")), &opts) {
                Ok(c) => c,
                Err(e) => {
                    println!("| {name} | {label} | error: {e} |");
                    continue;
                }
            };
            let compile_s = t0.elapsed().as_secs_f64();
            let pkg = compiled.package;
            let arr = npy::read(&input).expect("reference input");
            let sample = program_samples(&pkg.program, &arr, "reference input")
                .expect("one sample")
                .remove(0);
            run(&pkg, &sample).expect("warm-up run");
            let t0 = Instant::now();
            let out = run(&pkg, &sample).expect("run");
            let run_ms = t0.elapsed().as_secs_f64() * 1e3;
            let want = npy::read(&output).expect("reference output").data;
            let got = &out[0].values;
            let max_ref = want.iter().fold(0f64, |a, &v| a.max((v as f64).abs()));
            let max_err = want
                .iter()
                .zip(got)
                .fold(0f64, |a, (&w, &g)| a.max((w as f64 - g as f64).abs()));
            println!(
                "| {name} | {label} | {} | {} | {compile_s:.2} | {run_ms:.1} | {:.3e} | {} | {:.0} |",
                pkg.program.num_params(),
                pkg.program.nodes.len(),
                max_err / max_ref.max(f64::MIN_POSITIVE),
                if argmax(got) == argmax(&want) { "yes" } else { "no" },
                peak_rss_mb(),
            );
        }
    }
}

/// The golden input and first output of a model in `ref/`.
fn reference(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf)> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.join("ref"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let find = |kind: &str| {
        entries
            .iter()
            .find(|p| {
                p.file_name().and_then(|f| f.to_str()).is_some_and(|f| {
                    f.starts_with(&format!("{name}.{kind}.")) && f.ends_with(".npy")
                })
            })
            .cloned()
    };
    Some((find("in")?, find("out")?))
}
