//! Helpers shared by the vouch benches.

/// Peak resident set size of this process so far (Linux `VmHWM`), in MB; 0 where unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A generated model (`VOUCH_MODELS` layout) compiled at 8 bits, and the quantized inputs of
/// its first sample. Trained models calibrate on their own held-out data; random ones on the
/// reference input.
#[allow(dead_code)] // not every bench proves models
pub fn compiled_model(
    dir: &std::path::Path,
    name: &str,
) -> (vouch::artifact::ModelPackage, Vec<vouch::ir::Tensor>) {
    use vouch::model::{compile, program_samples, quantize_inputs, CompileOptions};
    let model = dir.join("models").join(format!("{name}.onnx"));
    let data = if name.contains("digits") {
        dir.join("data/digits8x8_test_x.npy")
    } else if name.contains("mnist") {
        dir.join("data/mnist5k_test_x.npy")
    } else {
        std::fs::read_dir(dir.join("ref"))
            .expect("ref dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with(&format!("{name}.in.")) && f.ends_with(".npy"))
            })
            .expect("reference input")
    };
    let opts = CompileOptions {
        calibration: Some(data.clone()),
        max_calibration_samples: 64,
        ..CompileOptions::default()
    };
    let pkg = compile(&model, &opts).expect("compile").package;
    let sample = program_samples(
        &pkg.program,
        &vouch::npy::read(&data).expect("data"),
        "data",
    )
    .expect("samples")
    .remove(0);
    let inputs = quantize_inputs(&pkg.program, &sample).expect("quantize");
    (pkg, inputs)
}

/// The image benches' recipe for a `WxH` original: crop 1/16 off each side, resize to half
/// (bilinear), grayscale.
#[allow(dead_code)] // not every bench edits images
pub fn edit_recipe(size: &str) -> (usize, usize, Vec<String>) {
    let (w, h) = size
        .split_once('x')
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
        .expect("size as WxH");
    let recipe = vec![
        format!("crop={},{},{},{}", w / 16, h / 16, w - w / 8, h - h / 8),
        format!("resize={},{},bilinear", w / 2, h / 2),
        "grayscale".to_string(),
    ];
    (w, h, recipe)
}
