//! Conformance seed: every compiled model's interpreter witness proves and verifies on the mock
//! backend, and a one-value change anywhere in the witness is rejected. The real backends run
//! the same checks.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use vouch::backend::mock::MockBackend;
use vouch::backend::{Backend, VisibilityPolicy, Witness};
use vouch::ir::interp;
use vouch::model::{compile, program_samples, quantize_inputs, CompileOptions};
use vouch::npy;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/digits_mlp")
        .join(name)
}

#[test]
fn bundled_example_proves_on_mock_and_rejects_tampering() {
    let opts = CompileOptions {
        calibration: Some(example("calibration.npy")),
        ..CompileOptions::default()
    };
    let pkg = compile(&example("model.onnx"), &opts).unwrap().package;
    let arr = npy::read(&example("test_x.npy")).unwrap();
    let samples = program_samples(&pkg.program, &arr, "test set").unwrap();
    for policy in [VisibilityPolicy::provider(), VisibilityPolicy::client()] {
        let (pk, vk) = MockBackend.setup(&pkg.program, policy).unwrap();
        for s in samples.iter().take(8) {
            let inputs = quantize_inputs(&pkg.program, s).unwrap();
            let w: Witness = interp::run(&pkg.program, &inputs).unwrap().into();
            let (st, proof) = MockBackend.prove(&pk, &w).unwrap();
            MockBackend.verify(&vk, &st, &proof).unwrap();
        }
    }
    // Tamper with one value of every tensor in turn.
    let (pk, _) = MockBackend
        .setup(&pkg.program, VisibilityPolicy::provider())
        .unwrap();
    let inputs = quantize_inputs(&pkg.program, &samples[0]).unwrap();
    let honest: Witness = interp::run(&pkg.program, &inputs).unwrap().into();
    let (honest_statement, _) = MockBackend.prove(&pk, &honest).unwrap();
    for t in 0..honest.values.len() {
        let mut w = honest.clone();
        let row = w.values[t].len() / 2;
        let r = pkg.program.tensors[t].range;
        let v = &mut w.values[t][row];
        *v = if *v == r.hi { *v - 1 } else { *v + 1 };
        match MockBackend.prove(&pk, &w) {
            // A changed input is a run on another (public) input: the statement must differ.
            Ok((st, _)) if pkg.program.inputs.iter().any(|i| i.index() == t) => {
                assert_ne!(
                    st, honest_statement,
                    "input change invisible in the statement"
                )
            }
            Ok(_) => panic!("change in {} accepted", pkg.program.tensors[t].name),
            Err(_) => {}
        }
    }
}
