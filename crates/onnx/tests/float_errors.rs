//! Hostile and unsupported inputs give the right typed error, never a panic.

mod float_common;

use float_common::*;
use tract_onnx::pb;
use vouch_onnx::{load_onnx, load_onnx_bytes, FOp, OnnxError};

fn relu_model() -> Vec<u8> {
    model(
        vec![node("Relu", &["x"], &["y"], vec![])],
        vec![],
        vec![value_info("x", 1, &[1, 4])],
        &["y"],
        13,
    )
}

#[test]
fn float_errors_garbage_bytes_are_decode_errors() {
    for bytes in [
        b"this is certainly not an onnx model, just some text".to_vec(),
        vec![0xff; 64],
        vec![],
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
    ] {
        match load_onnx_bytes(&bytes) {
            Err(OnnxError::Decode { .. }) => {}
            other => panic!("expected Decode error, got {other:?}"),
        }
    }
}

#[test]
fn float_errors_truncated_file_is_decode_error() {
    let good = relu_model();
    assert!(load_onnx_bytes(&good).is_ok());
    let mut decode = 0;
    for cut in 1..good.len() {
        match load_onnx_bytes(&good[..cut]) {
            Err(OnnxError::Decode { .. }) => decode += 1,
            Err(_) => {}
            Ok(_) => panic!("truncation at {cut} of {} still loads", good.len()),
        }
    }
    assert!(
        decode > good.len() / 2,
        "most truncations should be decode errors ({decode})"
    );
    // A real model cut in half, through a file on disk.
    if let Some(dir) = models_dir() {
        let bytes = std::fs::read(dir.join("models/mnist_mlp.onnx")).expect("model");
        let path =
            std::env::temp_dir().join(format!("vouch_truncated_{}.onnx", std::process::id()));
        std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
        let r = load_onnx(&path);
        let _ = std::fs::remove_file(&path);
        assert!(matches!(r, Err(OnnxError::Decode { .. })), "got {r:?}");
    }
}

#[test]
fn float_errors_missing_file_is_io_error() {
    let r = load_onnx(std::path::Path::new("/nonexistent/vouch/model.onnx"));
    assert!(matches!(r, Err(OnnxError::Io { .. })), "got {r:?}");
}

#[test]
fn float_errors_unsupported_op_names_op_and_node() {
    let bytes = model(
        vec![
            node("Relu", &["boxes"], &["b"], vec![]),
            node("NonMaxSuppression", &["b", "scores"], &["selected"], vec![]),
        ],
        vec![],
        vec![
            value_info("boxes", 1, &[1, 4, 4]),
            value_info("scores", 1, &[1, 1, 4]),
        ],
        &["selected"],
        13,
    );
    match load_onnx_bytes(&bytes) {
        Err(OnnxError::UnsupportedOp { op, node, hint }) => {
            assert_eq!(op, "NonMaxSuppression");
            assert_eq!(node, "NonMaxSuppression_selected");
            assert!(hint.contains("Supported ops"), "{hint}");
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
    // Custom domains are never guessed at.
    let mut n = node("Relu", &["x"], &["y"], vec![]);
    n.domain = "com.microsoft".into();
    let bytes = model(
        vec![n],
        vec![],
        vec![value_info("x", 1, &[1, 4])],
        &["y"],
        13,
    );
    assert!(matches!(
        load_onnx_bytes(&bytes),
        Err(OnnxError::UnsupportedOp { .. })
    ));
    // Unsupported attribute values: 3-D convolution.
    let bytes = model(
        vec![node("Conv", &["x", "w"], &["y"], vec![])],
        vec![init_f32("w", &[1, 1, 1, 1, 1], &[1.0])],
        vec![value_info("x", 1, &[1, 1, 2, 2, 2])],
        &["y"],
        13,
    );
    match load_onnx_bytes(&bytes) {
        Err(OnnxError::UnsupportedOp { op, hint, .. }) => {
            assert_eq!(op, "Conv");
            assert!(hint.contains("2-D"), "{hint}");
        }
        other => panic!("expected UnsupportedOp, got {other:?}"),
    }
}

#[test]
fn float_errors_non_finite_weights_name_the_tensor() {
    for bad in [f32::NAN, f32::INFINITY] {
        let bytes = model(
            vec![node("MatMul", &["x", "w"], &["y"], vec![])],
            vec![init_f32("dense.weight", &[2, 2], &[1.0, bad, 0.0, 1.0])],
            vec![value_info("x", 1, &[1, 2])],
            &["y"],
            13,
        );
        match load_onnx_bytes(&bytes) {
            Err(OnnxError::NonFinite { tensor, index, .. }) => {
                assert_eq!(tensor, "dense.weight");
                assert_eq!(index, 1);
            }
            other => panic!("expected NonFinite, got {other:?}"),
        }
    }
}

#[test]
fn float_errors_external_data_is_refused() {
    let mut w = init_f32("w", &[2, 2], &[]);
    w.raw_data.clear();
    w.data_location = Some(1);
    w.external_data = vec![pb::StringStringEntryProto {
        key: "location".into(),
        value: "weights.bin".into(),
    }];
    let bytes = model(
        vec![node("MatMul", &["x", "w"], &["y"], vec![])],
        vec![w],
        vec![value_info("x", 1, &[1, 2])],
        &["y"],
        13,
    );
    assert!(
        matches!(load_onnx_bytes(&bytes), Err(OnnxError::ExternalData { tensor }) if tensor == "w")
    );
}

#[test]
fn float_errors_symbolic_dims() {
    // Batch dim symbolic -> 1.
    let bytes = model(
        vec![node("Relu", &["x"], &["y"], vec![])],
        vec![],
        vec![value_info("x", 1, &[-1, 4])],
        &["y"],
        13,
    );
    let g = load_onnx_bytes(&bytes).expect("loads");
    assert_eq!(g.tensors[g.inputs[0]].shape, vec![1, 4]);
    // Any other symbolic dim is an error naming the input.
    let bytes = model(
        vec![node("Relu", &["x"], &["y"], vec![])],
        vec![],
        vec![value_info("x", 1, &[1, -1])],
        &["y"],
        13,
    );
    match load_onnx_bytes(&bytes) {
        Err(OnnxError::DynamicShape { input, dim, .. }) => {
            assert_eq!(input, "x");
            assert_eq!(dim, 1);
        }
        other => panic!("expected DynamicShape, got {other:?}"),
    }
}

#[test]
fn float_errors_huge_dimensions_are_refused() {
    let bytes = model(
        vec![node("Relu", &["x"], &["y"], vec![])],
        vec![],
        vec![value_info("x", 1, &[1 << 20, 1 << 20])],
        &["y"],
        13,
    );
    assert!(matches!(
        load_onnx_bytes(&bytes),
        Err(OnnxError::TooLarge { .. })
    ));
    // A constant-folded blow-up (ConstantOfShape) is refused before allocating.
    let bytes = model(
        vec![
            node("ConstantOfShape", &["s"], &["c"], vec![]),
            node("Add", &["x", "c"], &["y"], vec![]),
        ],
        vec![init_i64("s", &[2], &[1 << 15, 1 << 15])],
        vec![value_info("x", 1, &[1])],
        &["y"],
        13,
    );
    assert!(matches!(
        load_onnx_bytes(&bytes),
        Err(OnnxError::TooLarge { .. })
    ));
}

#[test]
fn float_errors_structural_problems() {
    // Missing input.
    let bytes = model(
        vec![node("Add", &["x", "nowhere"], &["y"], vec![])],
        vec![],
        vec![value_info("x", 1, &[2])],
        &["y"],
        13,
    );
    assert!(
        matches!(load_onnx_bytes(&bytes), Err(OnnxError::MissingInput { input, .. }) if input == "nowhere")
    );
    // Shape mismatch.
    let bytes = model(
        vec![node("MatMul", &["x", "w"], &["y"], vec![])],
        vec![init_f32("w", &[3, 2], &[0.0; 6])],
        vec![value_info("x", 1, &[1, 2])],
        &["y"],
        13,
    );
    assert!(matches!(
        load_onnx_bytes(&bytes),
        Err(OnnxError::ShapeMismatch { .. })
    ));
    // A shape computed at runtime.
    let bytes = model(
        vec![node("Reshape", &["x", "s"], &["y"], vec![])],
        vec![],
        vec![value_info("x", 1, &[2, 2]), value_info("s", 7, &[2])],
        &["y"],
        13,
    );
    assert!(matches!(
        load_onnx_bytes(&bytes),
        Err(OnnxError::NotConstant { .. })
    ));
    // Bad attribute value.
    let bytes = model(
        vec![node("Softmax", &["x"], &["y"], vec![attr_i("axis", 5)])],
        vec![],
        vec![value_info("x", 1, &[2, 2])],
        &["y"],
        13,
    );
    assert!(
        matches!(load_onnx_bytes(&bytes), Err(OnnxError::BadAttribute { attribute, .. }) if attribute == "axis")
    );
    // A cycle.
    let bytes = model(
        vec![
            node("Add", &["x", "b"], &["a"], vec![]),
            node("Relu", &["a"], &["b"], vec![]),
        ],
        vec![],
        vec![value_info("x", 1, &[2])],
        &["b"],
        13,
    );
    assert!(matches!(
        load_onnx_bytes(&bytes),
        Err(OnnxError::InvalidModel { .. })
    ));
    // An optional output we do not provide, used downstream.
    let bytes = model(
        vec![
            node(
                "MaxPool",
                &["x"],
                &["y", "idx"],
                vec![attr_ints("kernel_shape", &[2, 2])],
            ),
            node("Relu", &["idx"], &["z"], vec![]),
        ],
        vec![],
        vec![value_info("x", 1, &[1, 1, 4, 4])],
        &["z"],
        13,
    );
    assert!(
        matches!(load_onnx_bytes(&bytes), Err(OnnxError::UnsupportedOp { op, .. }) if op == "MaxPool")
    );
}

#[test]
fn float_errors_eval_validates_inputs() {
    let g = load_onnx_bytes(&relu_model()).expect("loads");
    assert!(matches!(
        g.eval(&[]),
        Err(OnnxError::InputCount {
            expected: 1,
            got: 0
        })
    ));
    assert!(matches!(
        g.eval(&[vec![0.0; 3]]),
        Err(OnnxError::BadInput { .. })
    ));
    assert!(matches!(
        g.eval(&[vec![0.0, f32::NAN, 0.0, 0.0]]),
        Err(OnnxError::BadInput { .. })
    ));
    let v = g.eval(&[vec![-1.0, 2.0, -3.0, 4.0]]).expect("evaluates");
    assert_eq!(v[g.outputs[0]], vec![0.0, 2.0, 0.0, 4.0]);
    // Token ids out of range are an evaluation error, not a panic.
    let bytes = model(
        vec![node("Gather", &["emb", "ids"], &["y"], vec![])],
        vec![init_f32("emb", &[4, 2], &[0.0; 8])],
        vec![value_info("ids", 7, &[1, 3])],
        &["y"],
        13,
    );
    let g = load_onnx_bytes(&bytes).expect("loads");
    assert!(matches!(g.nodes[0].op, FOp::GatherDynamic { axis: 0 }));
    assert!(g.eval(&[vec![0.0, 3.0, -1.0]]).is_ok());
    assert!(matches!(
        g.eval(&[vec![0.0, 4.0, 1.0]]),
        Err(OnnxError::Eval { .. })
    ));
    assert!(matches!(
        g.eval(&[vec![0.5, 1.0, 1.0]]),
        Err(OnnxError::BadInput { .. })
    ));
}
