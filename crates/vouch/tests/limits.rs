//! Resource limits are typed errors, checked before any large allocation.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/digits_mlp")
        .join(name)
}

#[test]
fn memory_budget_is_enforced_before_calibration() {
    let g = vouch::onnx::load_onnx(&example("model.onnx")).unwrap();
    assert!(vouch::model::check_memory(&g, 1 << 30).is_ok());
    let err = vouch::model::check_memory(&g, 1000)
        .unwrap_err()
        .to_string();
    assert!(err.contains("VOUCH_MEMORY_LIMIT_GB"), "{err}");
}
