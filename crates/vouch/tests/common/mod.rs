//! Helpers shared by the facade's integration tests: the bundled example, the generated model
//! directory, and editing ONNX protobufs (one weight changed, or made NaN).

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb;

/// A file of the bundled example (`examples/digits_mlp/NAME`).
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/digits_mlp")
        .join(name)
}

/// `onnx` compiled at 8 bits with (up to 32 samples of) `calibration`, and the quantized
/// inputs of its first sample.
pub fn compiled_sample(
    onnx: &Path,
    calibration: &Path,
) -> (vouch::artifact::ModelPackage, Vec<vouch::ir::Tensor>) {
    use vouch::model::{compile, program_samples, quantize_inputs, CompileOptions};
    let opts = CompileOptions {
        calibration: Some(calibration.to_path_buf()),
        max_calibration_samples: 32,
        ..CompileOptions::default()
    };
    let pkg = compile(onnx, &opts).unwrap().package;
    let data = vouch::npy::read(calibration).unwrap();
    let samples = program_samples(&pkg.program, &data, "data").unwrap();
    let inputs = quantize_inputs(&pkg.program, &samples[0]).unwrap();
    (pkg, inputs)
}

/// The generated models directory (`VOUCH_MODELS`, default `<repo>/../models/out`). `None`
/// (after printing a note) when it is absent, unless `VOUCH_REQUIRE_MODELS=1`, which panics.
pub fn models_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("VOUCH_MODELS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../models/out"),
    };
    if dir.join("manifest.json").is_file() {
        return Some(dir);
    }
    let required = std::env::var("VOUCH_REQUIRE_MODELS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "VOUCH_REQUIRE_MODELS=1 but {} has no manifest.json (run ./scripts/test.sh)",
        dir.display()
    );
    eprintln!(
        "NOTE: model directory {} not found; skipping (set VOUCH_MODELS or run the model generator)",
        dir.display()
    );
    None
}

pub fn decode_model(bytes: &[u8]) -> pb::ModelProto {
    pb::ModelProto::decode(bytes).unwrap()
}

pub fn encode_model(m: &pb::ModelProto) -> Vec<u8> {
    m.encode_to_vec()
}

pub fn graph_mut(m: &mut pb::ModelProto) -> &mut pb::GraphProto {
    m.graph.as_mut().unwrap()
}

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;

/// Indices of the float initializers.
pub fn float_initializers(m: &pb::ModelProto) -> Vec<usize> {
    let g = m.graph.as_ref().unwrap();
    (0..g.initializer.len())
        .filter(|&i| g.initializer[i].data_type == FLOAT)
        .collect()
}

/// The values of a float initializer (`raw_data` or `float_data`).
pub fn float_values(t: &pb::TensorProto) -> Vec<f32> {
    assert_eq!(t.data_type, FLOAT, "initializer '{}' is not float", t.name);
    if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

/// Sets element `i` of a float initializer, in whichever field holds its data.
pub fn set_float(t: &mut pb::TensorProto, i: usize, v: f32) {
    assert_eq!(t.data_type, FLOAT, "initializer '{}' is not float", t.name);
    if t.raw_data.is_empty() {
        t.float_data[i] = v;
    } else {
        t.raw_data[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// The example model with element `index` of float initializer `init` set by `f(old)`.
pub fn edit_weight(model: &[u8], init: usize, index: usize, f: impl Fn(f32) -> f32) -> Vec<u8> {
    let mut m = decode_model(model);
    let t = &mut graph_mut(&mut m).initializer[init];
    let old = float_values(t)[index];
    set_float(t, index, f(old));
    encode_model(&m)
}
