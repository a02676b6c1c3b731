//! End-to-end accuracy on the generated test models (`VOUCH_MODELS`; skipped with a note when
//! absent, a failure when `VOUCH_REQUIRE_MODELS=1`).
//!
//! Trained classifiers: compiled with the first 64 held-out samples as calibration data, the
//! quantized top-1 accuracy on the whole held-out set is within [`MAX_ACCURACY_DROP`] of the
//! float model's, and the float accuracy is exactly the generator's (onnxruntime's). A random
//! GPT-2 block: the quantized output on the reference input is within [`MAX_REL_ERROR`] of
//! onnxruntime's.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use vouch::model::{compile, eval, program_samples, run, CompileOptions};
use vouch::npy;

/// Largest allowed drop (or gain) of quantized vs float top-1 accuracy: 0.5 percentage points.
const MAX_ACCURACY_DROP: f64 = 0.005;
/// Largest allowed `max |quantized - reference| / max |reference|` for the GPT-2 block.
const MAX_REL_ERROR: f64 = 0.05;
/// Calibration samples taken from the front of the held-out set.
const CALIBRATION_SAMPLES: usize = 64;

const CLASSIFIERS: &[&str] = &["digits_mlp", "digits_cnn", "mnist_mlp", "lenet5_mnist"];

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn entry<'a>(manifest: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    manifest["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in manifest.json"))
}

/// The held-out set's `x` and `y` files (`test_set` is a glob like `data/digits8x8_test_*`).
fn test_set(dir: &Path, entry: &serde_json::Value) -> (PathBuf, PathBuf) {
    let glob = entry["test_set"].as_str().unwrap();
    (
        dir.join(glob.replace('*', "x.npy")),
        dir.join(glob.replace('*', "y.npy")),
    )
}

/// Writes the first `n` samples of `x` to a new `.npy` file.
fn head_npy(x: &npy::NpyArray, n: usize, path: &Path) {
    let per = x.data.len() / x.shape[0];
    let mut shape = x.shape.clone();
    shape[0] = n;
    std::fs::write(path, npy::to_bytes_f32(&shape, &x.data[..n * per])).unwrap();
}

struct Row {
    model: &'static str,
    samples: usize,
    float: f64,
    quantized: f64,
    default_calibration: f64,
}

#[test]
fn classifiers_keep_float_accuracy() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    let manifest = manifest(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for &name in CLASSIFIERS {
        let e = entry(&manifest, name);
        let onnx = dir.join(e["file"].as_str().unwrap());
        let (x_path, y_path) = test_set(&dir, e);
        let x = npy::read(&x_path).unwrap();
        let y = npy::read(&y_path).unwrap();
        let calibration = tmp.path().join(format!("{name}_calibration.npy"));
        head_npy(&x, CALIBRATION_SAMPLES, &calibration);

        let calibrated = compile(
            &onnx,
            &CompileOptions {
                calibration: Some(calibration),
                ..CompileOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            calibrated.package.meta.calibration.samples,
            CALIBRATION_SAMPLES
        );
        let r = eval(&calibrated.package, &x, &y, Some(&calibrated.graph)).unwrap();
        let float = r.float_accuracy.unwrap();

        let default = compile(&onnx, &CompileOptions::default()).unwrap();
        assert_eq!(default.package.meta.calibration.source, "default");
        let rd = eval(&default.package, &x, &y, None).unwrap();

        let expected = e["float_accuracy"].as_f64().unwrap();
        assert_eq!(r.samples, e["n_test"].as_u64().unwrap() as usize, "{name}");
        assert!(
            (float - expected).abs() <= 1e-9,
            "{name}: float accuracy {float} differs from the generator's {expected}"
        );
        assert!(
            (r.quantized_accuracy - float).abs() <= MAX_ACCURACY_DROP,
            "{name}: quantized accuracy {} vs float {float} (more than {} points apart)",
            r.quantized_accuracy,
            100.0 * MAX_ACCURACY_DROP
        );
        rows.push(Row {
            model: name,
            samples: r.samples,
            float,
            quantized: r.quantized_accuracy,
            default_calibration: rd.quantized_accuracy,
        });
    }
    eprintln!(
        "\n{:<14} {:>7} {:>8} {:>12} {:>7} {:>16}",
        "model", "samples", "float %", "quantized %", "diff", "default calib %"
    );
    for r in &rows {
        eprintln!(
            "{:<14} {:>7} {:>8.2} {:>12.2} {:>+7.2} {:>16.2}",
            r.model,
            r.samples,
            100.0 * r.float,
            100.0 * r.quantized,
            100.0 * (r.quantized - r.float),
            100.0 * r.default_calibration
        );
    }
}

#[test]
fn gpt2_block_matches_onnxruntime() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    let name = "gpt2_block_t32_d64_random";
    let manifest = manifest(&dir);
    let e = entry(&manifest, name);
    let onnx = dir.join(e["file"].as_str().unwrap());
    let input = dir.join(format!("ref/{name}.in.input.npy"));
    let reference = npy::read(&dir.join(format!("ref/{name}.out.output.npy"))).unwrap();
    let compiled = compile(
        &onnx,
        &CompileOptions {
            calibration: Some(input.clone()),
            ..CompileOptions::default()
        },
    )
    .unwrap();
    let pkg = &compiled.package;
    let samples = program_samples(&pkg.program, &npy::read(&input).unwrap(), "input").unwrap();
    assert_eq!(samples.len(), 1);
    let out = run(pkg, &samples[0]).unwrap();
    let got = &out[0].values;
    assert_eq!(got.len(), reference.data.len());
    let mut max_err = 0f64;
    let mut max_ref = 0f64;
    for (&q, &r) in got.iter().zip(&reference.data) {
        max_err = max_err.max((f64::from(q) - f64::from(r)).abs());
        max_ref = max_ref.max(f64::from(r).abs());
    }
    let rel = max_err / max_ref;
    eprintln!(
        "{name}: max abs error {max_err:.4e}, max |reference| {max_ref:.4}, max relative error {:.2}%",
        100.0 * rel
    );
    assert!(
        rel < MAX_REL_ERROR,
        "{name}: max relative error {rel} >= {MAX_REL_ERROR}"
    );
}
