//! Real models on the halo2 backend: the bundled digits MLP (always) and the generated small
//! models (when `VOUCH_MODELS` points at them) prove and verify under the provider preset, the
//! proven outputs equal the interpreter's bit for bit, and the weights commitment in the proof
//! is the one computed before any proof existed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use vouch::backend::{Backend, Role, VisibilityPolicy, Witness};
use vouch::halo2::{native_commitment, Blindings, Halo2Backend, Srs};
use vouch::ir::interp;

mod common;

fn prove_model(onnx: &Path, calibration: &Path, policy: VisibilityPolicy) {
    let (pkg, inputs) = common::compiled_sample(onnx, calibration);
    let trace = interp::run(&pkg.program, &inputs).unwrap();
    let expected: Vec<i64> = trace.outputs().remove(0).data;
    let w: Witness = trace.into();
    let backend = Halo2Backend {
        srs: Srs::InsecureDev,
    };
    let (pk, vk) = backend.setup(&pkg.program, policy).unwrap();
    let blindings = Blindings {
        weights: 987654321u64.into(),
        input: 42u64.into(),
        output: 7u64.into(),
    };
    let (st, proof) = backend.prove_with(&pk, &w, &blindings).unwrap();
    backend.verify(&vk, &st, &proof).unwrap();
    assert!(st.insecure_setup);
    let out = st
        .public
        .iter()
        .find(|p| p.tensor == pkg.program.outputs[0])
        .unwrap();
    assert_eq!(
        out.values,
        expected,
        "{}: proven output differs",
        onnx.display()
    );
    for c in &st.commitments {
        let b = match c.role {
            Role::Input => blindings.input,
            Role::Weights => blindings.weights,
            Role::Output => blindings.output,
        };
        let native = native_commitment(&pkg.program, &w.values, c.role, b);
        assert_eq!(c.bytes, vouch::halo2::field::to_bytes(&native).to_vec());
    }
}

#[test]
fn bundled_digits_mlp_proves_under_both_presets() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/digits_mlp");
    for policy in [VisibilityPolicy::provider(), VisibilityPolicy::client()] {
        prove_model(
            &dir.join("model.onnx"),
            &dir.join("calibration.npy"),
            policy,
        );
    }
}

#[test]
fn generated_small_models_prove() {
    let Some(dir) = std::env::var_os("VOUCH_MODELS").map(PathBuf::from) else {
        eprintln!("VOUCH_MODELS not set: skipping generated models");
        return;
    };
    let digits = dir.join("data/digits8x8_test_x.npy");
    prove_model(
        &dir.join("models/digits_cnn.onnx"),
        &digits,
        VisibilityPolicy::provider(),
    );
}
