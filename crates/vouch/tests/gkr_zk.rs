//! Zero-knowledge gkr proofs with a private input: real models prove and verify with the
//! input absent from the statement, the proven outputs equal the interpreter's, and forged
//! outputs, forged witnesses and flipped proof bytes are rejected.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use vouch::backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch::gkr::backend::GkrBackend;
use vouch::gkr::program::ProgramProof;
use vouch::ir::interp;

mod common;

fn private_input() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Private,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

fn prove_private(onnx: &Path, calibration: &Path) {
    let (pkg, inputs) = common::compiled_sample(onnx, calibration);
    let trace = interp::run(&pkg.program, &inputs).unwrap();
    let expected: Vec<i64> = trace.outputs().remove(0).data;
    let w: Witness = trace.into();
    let (pk, vk) = GkrBackend.setup(&pkg.program, private_input()).unwrap();
    assert!(pk.plan.zk);
    let (st, proof) = GkrBackend.prove(&pk, &w).unwrap();
    // The statement carries the output only.
    assert_eq!(st.public.len(), 1);
    assert_eq!(st.public[0].tensor, pkg.program.outputs[0]);
    assert_eq!(st.public[0].values, expected);
    let bytes = proof.to_bytes();
    let parsed = ProgramProof::from_bytes(&bytes).unwrap();
    GkrBackend.verify(&vk, &st, &parsed).unwrap();
    let mut forged = st.clone();
    let range = pkg.program.tensors[pkg.program.outputs[0].index()].range;
    let v = &mut forged.public[0].values[0];
    *v = if *v == range.hi { *v - 1 } else { *v + 1 };
    assert!(GkrBackend.verify(&vk, &forged, &parsed).is_err());
    for k in 0..24 {
        let mut b = bytes.clone();
        let at = (k * 104_729 + 17) % b.len();
        b[at] ^= 1 << (k % 8);
        if let Ok(p) = ProgramProof::from_bytes(&b) {
            assert!(
                GkrBackend.verify(&vk, &st, &p).is_err(),
                "byte {at} accepted"
            );
        }
    }
}

#[test]
fn bundled_digits_mlp_proves_with_a_private_input() {
    prove_private(
        &common::example("model.onnx"),
        &common::example("calibration.npy"),
    );
}
