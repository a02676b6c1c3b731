//! The facade's workflow on the gkr backend with the bundled digits MLP: `setup_keys` with
//! `SetupParams::Gkr`, `prove` and `verify` accept the run and attest the interpreter's
//! outputs; the keys directory round-trips through its files (the key re-derived from
//! `gkr.program`); a flipped proof byte and keys for another model are turned down; the client
//! preset proves with an input commitment; hidden weights (not built yet) are a typed
//! `PlanError::Visibility`.

#![allow(clippy::unwrap_used)]

mod common;

use common::example;
use vouch::artifact::{BackendKey, KeysDir, ProofFile, GKR_PROGRAM_FILE, KEYS_SUMMARY_FILE};
use vouch::backend::{Visibility, VisibilityPolicy};
use vouch::gkr::program::{PlanError, ProgramError};
use vouch::ir::interp;
use vouch::model::{compile, program_samples, quantize_inputs, CompileOptions};
use vouch::npy;
use vouch::prove::{prove, setup_keys, verify, BackendKind, Check, PolicyChoice, SetupParams};
use vouch::VouchError;

/// The bundled digits MLP compiled, or (`other`) the same model with one weight changed.
fn digits(other: bool) -> vouch::artifact::ModelPackage {
    let opts = CompileOptions {
        calibration: Some(example("calibration.npy")),
        ..CompileOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let onnx = if other {
        let onnx = std::fs::read(example("model.onnx")).unwrap();
        let p = dir.path().join("other.onnx");
        std::fs::write(&p, common::edit_weight(&onnx, 0, 0, |w| w + 0.75)).unwrap();
        p
    } else {
        example("model.onnx")
    };
    compile(&onnx, &opts).unwrap().package
}

fn public_fixed() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Public,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

#[test]
fn digits_mlp_proves_and_verifies_with_gkr() {
    let pkg = digits(false);
    // No preset: gkr's default policy is the one it proves.
    let policy = PolicyChoice::default().resolve_for(BackendKind::Gkr);
    assert_eq!(policy, public_fixed());
    let keys = setup_keys(&pkg, policy, SetupParams::Gkr).unwrap();
    assert_eq!(keys.summary.backend, "gkr");
    assert!(!keys.summary.insecure_setup);
    assert_eq!(keys.digest(), pkg.digest());
    assert!(matches!(keys.key, BackendKey::Gkr(_)));

    // The keys directory holds the program and the summary; reading it re-derives the key.
    let dir = tempfile::tempdir().unwrap();
    let kd = dir.path().join("keys");
    keys.write(&kd, false).unwrap();
    assert!(kd.join(GKR_PROGRAM_FILE).is_file() && kd.join(KEYS_SUMMARY_FILE).is_file());
    let keys = KeysDir::read(&kd).unwrap();

    let samples = program_samples(
        &pkg.program,
        &npy::read(&example("input.npy")).unwrap(),
        "input",
    )
    .unwrap();
    let proved = prove(&pkg, &keys, &samples[0]).unwrap();
    let st = &proved.file.statement;
    assert_eq!(st.backend, "gkr");
    assert!(!st.insecure_setup);
    assert!(st.commitments.is_empty());
    assert_eq!(st.params_digest, vouch::gkr::backend::params_digest());

    // The proven output is the interpreter's.
    let inputs = quantize_inputs(&pkg.program, &samples[0]).unwrap();
    let expected = interp::run(&pkg.program, &inputs)
        .unwrap()
        .outputs()
        .remove(0)
        .data;
    let out = st
        .public
        .iter()
        .find(|p| p.tensor == pkg.program.outputs[0])
        .unwrap();
    assert_eq!(out.values, expected);
    assert_eq!(proved.outputs[0].quantized, expected);

    // Through the proof file's bytes, it verifies.
    let file = ProofFile::from_bytes(&proved.file.to_bytes().unwrap()).unwrap();
    let v = verify(&file, &keys, Some(pkg.digest()), None).unwrap();
    assert!(v.is_valid(), "{:?}", v.rejection);
    assert!(!v.insecure_setup);

    // One flipped byte of the proof: turned down by the proof check.
    let mut bad = file.clone();
    let at = bad.proof.len() / 2;
    bad.proof[at] ^= 1;
    let v = verify(&bad, &keys, None, None).unwrap();
    assert_eq!(v.rejection.unwrap().check, Check::Proof);

    // Another output than the computed one.
    let mut bad = file.clone();
    bad.statement.public.last_mut().unwrap().values[0] += 1;
    assert!(!verify(&bad, &keys, None, None).unwrap().is_valid());

    // Keys for another model: the proof is not about their model, and they cannot prove it.
    let other = digits(true);
    assert_ne!(other.digest(), pkg.digest());
    let other_keys = setup_keys(&other, policy, SetupParams::Gkr).unwrap();
    let v = verify(&file, &other_keys, None, None).unwrap();
    assert_eq!(v.rejection.unwrap().check, Check::Keys);
    assert!(matches!(
        prove(&pkg, &other_keys, &samples[0]),
        Err(VouchError::Data { .. })
    ));

    // A keys directory whose program is another model's is refused on reading.
    other_keys.write(&dir.path().join("other"), false).unwrap();
    std::fs::copy(
        dir.path().join("other").join(GKR_PROGRAM_FILE),
        kd.join(GKR_PROGRAM_FILE),
    )
    .unwrap();
    assert!(matches!(KeysDir::read(&kd), Err(VouchError::Format { .. })));
}

#[test]
fn hidden_weights_are_a_typed_visibility_error() {
    let pkg = digits(false);
    match setup_keys(&pkg, VisibilityPolicy::provider(), SetupParams::Gkr) {
        Err(VouchError::Gkr(ProgramError::Plan(PlanError::Visibility { role, .. }))) => {
            assert_eq!(role, "weights")
        }
        other => panic!("provider: {other:?}"),
    }
}

/// The client preset: the input is committed on its own (one input commitment in the
/// statement, no input values) and the proof verifies.
#[test]
fn client_preset_proves_with_an_input_commitment() {
    let pkg = digits(false);
    let keys = setup_keys(&pkg, VisibilityPolicy::client(), SetupParams::Gkr).unwrap();
    let samples = program_samples(
        &pkg.program,
        &npy::read(&example("input.npy")).unwrap(),
        "input",
    )
    .unwrap();
    let proved = prove(&pkg, &keys, &samples[0]).unwrap();
    let st = &proved.file.statement;
    assert_eq!(st.commitments.len(), 1);
    assert!(st
        .public
        .iter()
        .all(|p| !pkg.program.inputs.contains(&p.tensor)));
    let file = ProofFile::from_bytes(&proved.file.to_bytes().unwrap()).unwrap();
    let v = verify(&file, &keys, Some(pkg.digest()), None).unwrap();
    assert!(v.is_valid(), "{:?}", v.rejection);
}
