//! The ONNX backend node tests (generated into `onnx_node_tests/`): every case either imports
//! and matches the expected outputs, or fails with a typed error. Nothing panics.
//!
//! Graph inputs that are not float data (indices, shapes, axes, conditions) and scalar inputs
//! are turned into initializers, since the frontend needs them at import time; when an import
//! still asks for a constant, all inputs but the first are frozen and the import retried.

mod float_common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use float_common::{models_dir, read_pb, tensor_f32};
use prost::Message;
use tract_onnx::pb;
use vouch_onnx::{load_onnx_bytes, OnnxError};

#[derive(Debug)]
enum Outcome {
    Pass,
    Mismatch(String),
    Error(String, String),
    Panic,
    Skipped(String),
}

fn variant(e: &OnnxError) -> String {
    format!("{e:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or("")
        .to_string()
}

fn run_case(dir: &Path) -> Outcome {
    let Ok(bytes) = std::fs::read(dir.join("model.onnx")) else {
        return Outcome::Skipped("no model".into());
    };
    let Ok(model) = pb::ModelProto::decode(bytes.as_slice()) else {
        return Outcome::Skipped("undecodable model".into());
    };
    let data = dir.join("test_data_set_0");
    let Some(graph) = model.graph.as_ref() else {
        return Outcome::Skipped("no graph".into());
    };
    let mut inputs = Vec::new();
    for (k, vi) in graph.input.iter().enumerate() {
        let Some(t) = read_pb(&data.join(format!("input_{k}.pb"))) else {
            return Outcome::Skipped(format!("input {k} ('{}') unreadable", vi.name));
        };
        let Some(v) = tensor_f32(&t) else {
            return Outcome::Skipped(format!(
                "input {k} has unsupported test dtype {}",
                t.data_type
            ));
        };
        inputs.push((vi.name.clone(), t, v));
    }
    let mut outputs = Vec::new();
    for (k, _) in graph.output.iter().enumerate() {
        let Some(t) = read_pb(&data.join(format!("output_{k}.pb"))) else {
            return Outcome::Skipped(format!("output {k} unreadable"));
        };
        let Some(v) = tensor_f32(&t) else {
            return Outcome::Skipped(format!(
                "output {k} has unsupported test dtype {}",
                t.data_type
            ));
        };
        // Half-precision references carry half-precision rounding.
        let rtol = match t.data_type {
            10 => 5e-3,
            16 => 3e-2,
            _ => 1e-3,
        };
        outputs.push((v, rtol));
    }
    let freeze = |all_but_first: bool| -> Vec<u8> {
        let mut m = model.clone();
        if let Some(g) = m.graph.as_mut() {
            for (k, (name, t, (shape, _, is_float))) in inputs.iter().enumerate() {
                let frozen = !is_float || shape.is_empty() || (all_but_first && k > 0);
                if frozen {
                    let mut t = t.clone();
                    t.name = name.clone();
                    g.initializer.push(t);
                    g.input.retain(|vi| vi.name != *name);
                }
            }
        }
        m.encode_to_vec()
    };
    let mut result = catch_unwind(AssertUnwindSafe(|| load_onnx_bytes(&freeze(false))));
    if let Ok(Err(OnnxError::NotConstant { .. })) = &result {
        result = catch_unwind(AssertUnwindSafe(|| load_onnx_bytes(&freeze(true))));
    }
    let g = match result {
        Err(_) => return Outcome::Panic,
        Ok(Err(e)) => return Outcome::Error(variant(&e), e.to_string()),
        Ok(Ok(g)) => g,
    };
    let mut feed = Vec::new();
    for &id in &g.inputs {
        let name = &g.tensors[id].name;
        match inputs.iter().find(|(n, _, _)| n == name) {
            Some((_, _, (_, v, _))) => feed.push(v.clone()),
            None => return Outcome::Mismatch(format!("graph input '{name}' has no test data")),
        }
    }
    let values = match catch_unwind(AssertUnwindSafe(|| g.eval(&feed))) {
        Err(_) => return Outcome::Panic,
        Ok(Err(e)) => return Outcome::Error(variant(&e), format!("eval: {e}")),
        Ok(Ok(v)) => v,
    };
    if g.outputs.len() != outputs.len() {
        return Outcome::Mismatch(format!(
            "{} outputs, expected {}",
            g.outputs.len(),
            outputs.len()
        ));
    }
    for (k, (&id, ((shape, want, _), rtol))) in g.outputs.iter().zip(&outputs).enumerate() {
        let got = &values[id];
        if g.tensors[id].shape.iter().product::<usize>() != shape.iter().product::<usize>() {
            return Outcome::Mismatch(format!(
                "output {k}: shape {:?}, expected {shape:?}",
                g.tensors[id].shape
            ));
        }
        for (j, (a, b)) in got.iter().zip(want).enumerate() {
            let ok = (a - b).abs() <= 1e-5 + rtol * b.abs() || (a.is_nan() && b.is_nan()) || a == b;
            if !ok {
                return Outcome::Mismatch(format!("output {k}[{j}]: got {a}, expected {b}"));
            }
        }
    }
    Outcome::Pass
}

/// Cases that must import and match: the supported op set, across opsets and attributes.
const MUST_PASS: &[&str] = &[
    "test_abs",
    "test_add",
    "test_add_bcast",
    "test_averagepool_1d_default",
    "test_averagepool_2d_ceil",
    "test_averagepool_2d_default",
    "test_averagepool_2d_pads",
    "test_averagepool_2d_pads_count_include_pad",
    "test_averagepool_2d_precomputed_pads",
    "test_averagepool_2d_precomputed_pads_count_include_pad",
    "test_averagepool_2d_precomputed_same_upper",
    "test_averagepool_2d_precomputed_strides",
    "test_averagepool_2d_same_lower",
    "test_averagepool_2d_same_upper",
    "test_averagepool_2d_strides",
    "test_basic_conv_with_padding",
    "test_basic_conv_without_padding",
    "test_batchnorm_epsilon",
    "test_batchnorm_example",
    "test_clip",
    "test_clip_default_max",
    "test_clip_default_min",
    "test_clip_example",
    "test_clip_inbounds",
    "test_clip_outbounds",
    "test_concat_1d_axis_0",
    "test_concat_2d_axis_1",
    "test_concat_3d_axis_negative_1",
    "test_conv_with_autopad_same",
    "test_conv_with_strides_and_asymmetric_padding",
    "test_conv_with_strides_no_padding",
    "test_conv_with_strides_padding",
    "test_convtranspose",
    "test_convtranspose_1d",
    "test_convtranspose_autopad_same",
    "test_convtranspose_dilations",
    "test_convtranspose_kernel_shape",
    "test_convtranspose_output_shape",
    "test_convtranspose_pad",
    "test_convtranspose_pads",
    "test_convtranspose_group_2",
    "test_div",
    "test_div_bcast",
    "test_edge_pad",
    "test_erf",
    "test_exp",
    "test_expand_dim_changed",
    "test_expand_dim_unchanged",
    "test_flatten_axis0",
    "test_flatten_axis1",
    "test_flatten_default_axis",
    "test_flatten_negative_axis1",
    "test_gather_0",
    "test_gather_1",
    "test_gather_negative_indices",
    "test_gelu_default_1",
    "test_gelu_tanh_1",
    "test_gemm_all_attributes",
    "test_gemm_alpha",
    "test_gemm_beta",
    "test_gemm_default_matrix_bias",
    "test_gemm_default_no_bias",
    "test_gemm_default_scalar_bias",
    "test_gemm_default_single_elem_vector_bias",
    "test_gemm_default_vector_bias",
    "test_gemm_default_zero_bias",
    "test_gemm_transposeA",
    "test_gemm_transposeB",
    "test_globalaveragepool",
    "test_globalmaxpool",
    "test_hardsigmoid",
    "test_hardswish",
    "test_layer_normalization_2d_axis0",
    "test_layer_normalization_3d_axis_negative_1_epsilon",
    "test_layer_normalization_4d_axis1",
    "test_leakyrelu",
    "test_log",
    "test_matmul_2d",
    "test_matmul_3d",
    "test_matmul_4d",
    "test_max_example",
    "test_maxpool_1d_default",
    "test_maxpool_2d_ceil",
    "test_maxpool_2d_default",
    "test_maxpool_2d_dilations",
    "test_maxpool_2d_pads",
    "test_maxpool_2d_precomputed_pads",
    "test_maxpool_2d_precomputed_same_upper",
    "test_maxpool_2d_precomputed_strides",
    "test_maxpool_2d_same_lower",
    "test_maxpool_2d_same_upper",
    "test_maxpool_2d_strides",
    "test_mean_example",
    "test_min_example",
    "test_mul",
    "test_mul_bcast",
    "test_neg",
    "test_pow_bcast_scalar",
    "test_prelu_broadcast",
    "test_prelu_example",
    "test_reciprocal",
    "test_reduce_max_default_axes_keepdim_example",
    "test_reduce_mean_default_axes_keepdims_example",
    "test_reduce_mean_do_not_keepdims_example",
    "test_reduce_mean_keepdims_example",
    "test_reduce_mean_negative_axes_keepdims_example",
    "test_reduce_min_do_not_keepdims_example",
    "test_reduce_sum_do_not_keepdims_example",
    "test_reduce_sum_empty_axes_input_noop_example",
    "test_reduce_sum_keepdims_example",
    "test_reflect_pad",
    "test_relu",
    "test_reshape_extended_dims",
    "test_reshape_negative_dim",
    "test_reshape_one_dim",
    "test_reshape_reduced_dims",
    "test_reshape_zero_dim",
    "test_shape",
    "test_sigmoid",
    "test_slice",
    "test_slice_default_axes",
    "test_slice_end_out_of_bounds",
    "test_slice_neg",
    "test_slice_neg_steps",
    "test_slice_negative_axes",
    "test_slice_start_out_of_bounds",
    "test_softmax_axis_0",
    "test_softmax_axis_1",
    "test_softmax_default_axis",
    "test_softmax_large_number",
    "test_softmax_negative_axis",
    "test_softplus",
    "test_split_equal_parts_1d_opset13",
    "test_split_equal_parts_2d",
    "test_split_variable_parts_2d_opset18",
    "test_split_1d_uneven_split_opset18",
    "test_sqrt",
    "test_squeeze",
    "test_squeeze_negative_axes",
    "test_sub",
    "test_sub_bcast",
    "test_sum_example",
    "test_tanh",
    "test_tile",
    "test_transpose_all_permutations_0",
    "test_transpose_default",
    "test_unsqueeze_axis_0",
    "test_unsqueeze_negative_axes",
    "test_unsqueeze_two_axes",
    "test_where_example",
    "test_wrap_pad",
    "test_constant_pad",
    "test_depthtospace_example",
    "test_spacetodepth_example",
    "test_softsign",
    "test_constantofshape_float_ones",
    "test_range_float_type_positive_delta",
    "test_spacetodepth_crd_mode_example",
    "test_resize_upsample_scales_nearest",
    "test_resize_downsample_scales_nearest",
    "test_resize_upsample_sizes_nearest",
    "test_resize_upsample_sizes_nearest_floor_align_corners",
    "test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric",
    "test_upsample_nearest",
    "test_instancenorm_example",
    "test_group_normalization_example",
    "test_group_normalization_epsilon",
    "test_swish",
    "test_gelu_default_1_expanded",
    "test_gelu_tanh_1_expanded",
    "test_layer_normalization_2d_axis0_expanded",
    "test_dropout_default_mask",
    "test_identity",
    "test_constant",
    "test_reduce_l2_do_not_keepdims_example",
    "test_hardswish_expanded",
    "test_mean_two_inputs",
    "test_averagepool_2d_ceil_last_window_starts_on_pad",
    "test_maxpool_2d_ceil_output_size_reduce_by_one",
];

#[test]
fn float_node_tests_import_or_fail_typed() {
    let Some(root) = models_dir() else { return };
    let root = root.join("onnx_node_tests");
    let Ok(rd) = std::fs::read_dir(&root) else {
        eprintln!("NOTE: {} missing; skipping", root.display());
        return;
    };
    let mut cases: Vec<_> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    cases.sort();
    let mut results: BTreeMap<String, Outcome> = BTreeMap::new();
    for c in &cases {
        let name = c
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        results.insert(name, run_case(c));
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for (name, r) in &results {
        let key = match r {
            Outcome::Pass => "pass".to_string(),
            Outcome::Mismatch(m) => {
                bad.push(format!("{name}: MISMATCH {m}"));
                "mismatch".to_string()
            }
            Outcome::Error(v, msg) => {
                if std::env::var_os("VOUCH_NODE_TESTS_VERBOSE").is_some() {
                    println!("{name}: {v}: {msg}");
                }
                format!("error:{v}")
            }
            Outcome::Panic => {
                bad.push(format!("{name}: PANIC"));
                "panic".to_string()
            }
            Outcome::Skipped(why) => {
                if std::env::var_os("VOUCH_NODE_TESTS_VERBOSE").is_some() {
                    println!("{name}: SKIPPED: {why}");
                }
                "skipped".to_string()
            }
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    println!("{} node test cases: {counts:?}", cases.len());
    for name in MUST_PASS {
        match results.get(*name) {
            Some(Outcome::Pass) => {}
            None => bad.push(format!("{name}: case missing")),
            Some(other) => bad.push(format!("{name}: must pass, got {other:?}")),
        }
    }
    // Regression guard: the supported op set covers this many cases (771 with onnx 1.23.2).
    let passed = counts.get("pass").copied().unwrap_or(0);
    if cases.len() > 1500 && passed < 760 {
        bad.push(format!("only {passed} cases pass (expected >= 760)"));
    }
    assert!(
        bad.is_empty(),
        "{} problems:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
