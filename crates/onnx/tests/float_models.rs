//! Every generated model loads, and its float evaluation matches the onnxruntime reference
//! outputs within 1e-3 (max absolute error relative to the largest reference magnitude).

mod float_common;

use std::path::Path;
use std::time::Instant;

use float_common::{max_err, models_dir, read_npy};
use vouch_onnx::{load_onnx, FloatGraph};

const TOLERANCE: f32 = 1e-3;

/// Reference files `ref/<model>.<kind>.<name>.npy`, sorted by name.
fn ref_files(dir: &Path, model: &str, kind: &str) -> Vec<(String, std::path::PathBuf)> {
    let prefix = format!("{model}.{kind}.");
    let mut v: Vec<_> = std::fs::read_dir(dir.join("ref"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let f = e.file_name().to_string_lossy().to_string();
                    let name = f.strip_prefix(&prefix)?.strip_suffix(".npy")?.to_string();
                    Some((name, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Pairs graph tensors with reference files: by name, or by position when the counts agree.
fn pair(
    g: &FloatGraph,
    ids: &[usize],
    files: &[(String, std::path::PathBuf)],
) -> Vec<(usize, std::path::PathBuf)> {
    if files.len() != ids.len() {
        return Vec::new();
    }
    let by_name: Option<Vec<_>> = ids
        .iter()
        .map(|&id| {
            files
                .iter()
                .find(|(n, _)| *n == g.tensors[id].name)
                .map(|(_, p)| (id, p.clone()))
        })
        .collect();
    by_name.unwrap_or_else(|| {
        ids.iter()
            .copied()
            .zip(files.iter().map(|(_, p)| p.clone()))
            .collect()
    })
}

#[test]
fn float_models_match_onnxruntime() {
    let Some(dir) = models_dir() else { return };
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    let models = manifest["models"].as_array().expect("models array");
    let mut failures = Vec::new();
    println!(
        "{:<40} {:>8} {:>10} {:>12} {:>12} {:>9}",
        "model", "nodes", "load ms", "max abs err", "rel err", "eval ms"
    );
    for m in models {
        let name = m["name"].as_str().expect("name");
        let file = dir.join(m["file"].as_str().expect("file"));
        let t0 = Instant::now();
        let g = match load_onnx(&file) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: load failed: {e}"));
                continue;
            }
        };
        let load_ms = t0.elapsed().as_secs_f64() * 1e3;
        let ins = pair(&g, &g.inputs, &ref_files(&dir, name, "in"));
        let outs = pair(&g, &g.outputs, &ref_files(&dir, name, "out"));
        if ins.is_empty() || outs.is_empty() {
            failures.push(format!(
                "{name}: could not pair reference files with graph inputs/outputs"
            ));
            continue;
        }
        let inputs: Vec<Vec<f32>> = ins
            .iter()
            .map(|(_, p)| read_npy(p).expect("npy").data)
            .collect();
        let t1 = Instant::now();
        let values = match g.eval(&inputs) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{name}: eval failed: {e}"));
                continue;
            }
        };
        let eval_ms = t1.elapsed().as_secs_f64() * 1e3;
        let (mut worst_abs, mut worst_rel) = (0f32, 0f32);
        for (id, p) in &outs {
            let want = read_npy(p).expect("npy");
            let got = &values[*id];
            if got.len() != want.data.len() {
                failures.push(format!(
                    "{name}: output {} has {} values, reference {}",
                    g.tensors[*id].name,
                    got.len(),
                    want.data.len()
                ));
                continue;
            }
            let (abs, refmax) = max_err(got, &want.data);
            worst_abs = worst_abs.max(abs);
            worst_rel = worst_rel.max(abs / refmax.max(1e-6));
        }
        println!(
            "{name:<40} {:>8} {load_ms:>10.1} {worst_abs:>12.3e} {worst_rel:>12.3e} {eval_ms:>9.1}",
            g.nodes.len()
        );
        println!("    {}", g.summary());
        if worst_rel.is_nan() || worst_rel > TOLERANCE {
            failures.push(format!(
                "{name}: relative error {worst_rel:.3e} exceeds {TOLERANCE}"
            ));
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
