//! Real models on the gkr backend: the bundled digits MLP (always) and the generated small
//! models (when `VOUCH_MODELS` points at them: MLPs, CNNs with pooling, GPT-2 blocks with
//! attention, layer norm and GELU tables) prove and verify with the input and output public and
//! the weights fixed; the proven outputs equal the interpreter's bit for bit and a statement
//! with one output value changed is rejected. The large models (MobileNetV2-224, the two-layer
//! GPT-2) run in `cargo bench -p vouch --bench gkr`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use vouch::backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch::gkr::backend::GkrBackend;
use vouch::ir::interp;

mod common;

fn prove_model(onnx: &Path, calibration: &Path) {
    let (pkg, inputs) = common::compiled_sample(onnx, calibration);
    let trace = interp::run(&pkg.program, &inputs).unwrap();
    let expected: Vec<i64> = trace.outputs().remove(0).data;
    let w: Witness = trace.into();
    let policy = VisibilityPolicy {
        input: Visibility::Public,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    };
    let (pk, vk) = GkrBackend.setup(&pkg.program, policy).unwrap();
    let (st, proof) = GkrBackend.prove(&pk, &w).unwrap();
    GkrBackend.verify(&vk, &st, &proof).unwrap();
    let i = st
        .public
        .iter()
        .position(|p| p.tensor == pkg.program.outputs[0])
        .unwrap();
    assert_eq!(
        st.public[i].values,
        expected,
        "{}: proven output differs",
        onnx.display()
    );
    let mut forged = st.clone();
    let range = pkg.program.tensors[pkg.program.outputs[0].index()].range;
    let v = &mut forged.public[i].values[0];
    *v = if *v == range.hi { *v - 1 } else { *v + 1 };
    assert!(
        GkrBackend.verify(&vk, &forged, &proof).is_err(),
        "{}: forged output accepted",
        onnx.display()
    );
}

#[test]
fn bundled_digits_mlp_proves() {
    prove_model(
        &common::example("model.onnx"),
        &common::example("calibration.npy"),
    );
}

#[test]
fn generated_small_models_prove() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    let reference = |name: &str| {
        std::fs::read_dir(dir.join("ref"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with(&format!("{name}.in.")) && f.ends_with(".npy"))
            })
            .unwrap()
    };
    let digits = dir.join("data/digits8x8_test_x.npy");
    let mnist = dir.join("data/mnist5k_test_x.npy");
    for (name, data) in [
        ("digits_mlp", digits.clone()),
        ("digits_cnn", digits),
        ("mnist_mlp", mnist.clone()),
        ("lenet5_mnist", mnist),
        (
            "gpt2_block_t32_d64_random",
            reference("gpt2_block_t32_d64_random"),
        ),
        (
            "gpt2_block_t32_d64_decomposed_random",
            reference("gpt2_block_t32_d64_decomposed_random"),
        ),
    ] {
        prove_model(&dir.join("models").join(format!("{name}.onnx")), &data);
    }
}
