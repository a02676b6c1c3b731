//! Lowering rules, constant folding and pattern fusions on small hand-built models, checked
//! structurally (which ops remain) and numerically (against direct formulas).

mod float_common;

use float_common::*;
use vouch_onnx::{load_onnx_bytes, FOp, FloatGraph, UnaryFn};

fn ops(g: &FloatGraph) -> Vec<String> {
    g.nodes.iter().map(|n| n.op.long_name()).collect()
}

fn run1(g: &FloatGraph, x: &[f32]) -> Vec<f32> {
    let v = g.eval(&[x.to_vec()]).expect("eval");
    v[g.outputs[0]].clone()
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "index {i}: {x} vs {y}"
        );
    }
}

fn gelu(x: f32) -> f32 {
    let x = f64::from(x);
    (0.5 * x * (1.0 + libm_erf(x / std::f64::consts::SQRT_2))) as f32
}

/// erf via the GELU identity used by the crate (checked against tanh-free values).
fn libm_erf(x: f64) -> f64 {
    // Abramowitz-Stegun 7.1.26 is not accurate enough; use a series/continued fraction.
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let y = 1.0
        - t * (-x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

#[test]
fn float_fusion_gelu_erf_any_association() {
    let x_in = value_info("x", 1, &[2, 8]);
    let c = |n: &str, v: f32| init_f32(n, &[], &[v]);
    let variants: Vec<(
        Vec<tract_onnx::pb::NodeProto>,
        Vec<tract_onnx::pb::TensorProto>,
    )> = vec![
        // (x * 0.5) * (1 + erf(x / sqrt2))
        (
            vec![
                node("Div", &["x", "sqrt2"], &["u"], vec![]),
                node("Erf", &["u"], &["e"], vec![]),
                node("Add", &["e", "one"], &["a"], vec![]),
                node("Mul", &["x", "half"], &["h"], vec![]),
                node("Mul", &["h", "a"], &["y"], vec![]),
            ],
            vec![
                c("sqrt2", std::f32::consts::SQRT_2),
                c("one", 1.0),
                c("half", 0.5),
            ],
        ),
        // ((x * (erf(x * 0.7071) + 1)) * 0.5
        (
            vec![
                node("Mul", &["x", "inv"], &["u"], vec![]),
                node("Erf", &["u"], &["e"], vec![]),
                node("Add", &["one", "e"], &["a"], vec![]),
                node("Mul", &["a", "x"], &["t"], vec![]),
                node("Mul", &["t", "half"], &["y"], vec![]),
            ],
            vec![
                c("inv", std::f32::consts::FRAC_1_SQRT_2),
                c("one", 1.0),
                c("half", 0.5),
            ],
        ),
        // x * ((1 + erf(x / sqrt2)) * 0.5)
        (
            vec![
                node("Div", &["x", "sqrt2"], &["u"], vec![]),
                node("Erf", &["u"], &["e"], vec![]),
                node("Add", &["e", "one"], &["a"], vec![]),
                node("Mul", &["a", "half"], &["t"], vec![]),
                node("Mul", &["x", "t"], &["y"], vec![]),
            ],
            vec![
                c("sqrt2", std::f32::consts::SQRT_2),
                c("one", 1.0),
                c("half", 0.5),
            ],
        ),
    ];
    let x = pseudo_random(16, 1)
        .iter()
        .map(|v| v * 4.0)
        .collect::<Vec<_>>();
    for (k, (nodes, inits)) in variants.into_iter().enumerate() {
        let first = nodes[0].name.clone();
        let g =
            load_onnx_bytes(&model(nodes, inits, vec![x_in.clone()], &["y"], 13)).expect("loads");
        assert_eq!(ops(&g), vec!["Unary(Gelu)"], "variant {k}");
        assert_eq!(
            g.nodes[0].name, first,
            "variant {k}: fused node keeps the first node's name"
        );
        assert_eq!(g.tensors[g.outputs[0]].name, "y");
        let want: Vec<f32> = x.iter().map(|&v| gelu(v)).collect();
        close(&run1(&g, &x), &want, 1e-5);
    }
}

#[test]
fn float_fusion_gelu_tanh_and_silu() {
    let c = |n: &str, v: f32| init_f32(n, &[], &[v]);
    let nodes = vec![
        node("Pow", &["x", "three"], &["x3"], vec![]),
        node("Mul", &["x3", "k1"], &["m"], vec![]),
        node("Add", &["x", "m"], &["inner"], vec![]),
        node("Mul", &["inner", "k2"], &["s"], vec![]),
        node("Tanh", &["s"], &["t"], vec![]),
        node("Add", &["t", "one"], &["a"], vec![]),
        node("Mul", &["x", "a"], &["xa"], vec![]),
        node("Mul", &["xa", "half"], &["y"], vec![]),
    ];
    let inits = vec![
        c("three", 3.0),
        c("k1", 0.044715),
        c("k2", (2.0f32 / std::f32::consts::PI).sqrt()),
        c("one", 1.0),
        c("half", 0.5),
    ];
    let g = load_onnx_bytes(&model(
        nodes,
        inits,
        vec![value_info("x", 1, &[1, 10])],
        &["y"],
        13,
    ))
    .expect("loads");
    assert_eq!(ops(&g), vec!["Unary(GeluTanh)"]);
    assert_eq!(g.nodes[0].name, "Pow_x3");
    let x = pseudo_random(10, 2)
        .iter()
        .map(|v| v * 3.0)
        .collect::<Vec<_>>();
    let want: Vec<f32> = x
        .iter()
        .map(|&v| {
            0.5 * v
                * (1.0
                    + ((2.0f32 / std::f32::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
        })
        .collect();
    close(&run1(&g, &x), &want, 1e-5);

    let g = load_onnx_bytes(&model(
        vec![
            node("Sigmoid", &["x"], &["s"], vec![]),
            node("Mul", &["s", "x"], &["y"], vec![]),
        ],
        vec![],
        vec![value_info("x", 1, &[1, 10])],
        &["y"],
        13,
    ))
    .expect("loads");
    assert_eq!(ops(&g), vec!["Unary(Silu)"]);
    let want: Vec<f32> = x.iter().map(|&v| v / (1.0 + (-v).exp())).collect();
    close(&run1(&g, &x), &want, 1e-5);
}

#[test]
fn float_fusion_decomposed_layer_norm() {
    let d = 6;
    let gamma = pseudo_random(d, 3);
    let beta = pseudo_random(d, 4);
    let nodes = vec![
        node(
            "ReduceMean",
            &["x"],
            &["mean"],
            vec![attr_ints("axes", &[-1])],
        ),
        node("Sub", &["x", "mean"], &["d"], vec![]),
        node("Pow", &["d", "two"], &["sq"], vec![]),
        node(
            "ReduceMean",
            &["sq"],
            &["var"],
            vec![attr_ints("axes", &[-1])],
        ),
        node("Add", &["var", "eps"], &["ve"], vec![]),
        node("Sqrt", &["ve"], &["std"], vec![]),
        node("Div", &["d", "std"], &["n"], vec![]),
        node("Mul", &["n", "gamma"], &["g"], vec![]),
        node("Add", &["g", "beta"], &["y"], vec![]),
    ];
    let inits = vec![
        init_f32("two", &[], &[2.0]),
        init_f32("eps", &[], &[1e-5]),
        init_f32("gamma", &[d as i64], &gamma),
        init_f32("beta", &[d as i64], &beta),
    ];
    let g = load_onnx_bytes(&model(
        nodes,
        inits,
        vec![value_info("x", 1, &[1, 3, d as i64])],
        &["y"],
        13,
    ))
    .expect("loads");
    assert_eq!(ops(&g), vec!["LayerNorm"]);
    assert_eq!(g.nodes[0].name, "ReduceMean_mean");
    match &g.nodes[0].op {
        FOp::LayerNorm { axis, eps } => {
            assert_eq!(*axis, 2);
            assert!((eps - 1e-5).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }
    let x = pseudo_random(3 * d, 5);
    let mut want = Vec::new();
    for row in x.chunks(d) {
        let m = row.iter().sum::<f32>() / d as f32;
        let v = row.iter().map(|a| (a - m) * (a - m)).sum::<f32>() / d as f32;
        for (j, a) in row.iter().enumerate() {
            want.push((a - m) / (v + 1e-5).sqrt() * gamma[j] + beta[j]);
        }
    }
    close(&run1(&g, &x), &want, 1e-4);
}

fn conv_bn(extra_consumer: bool) -> FloatGraph {
    let (c, o) = (2usize, 3usize);
    let mut nodes = vec![
        node(
            "Conv",
            &["x", "w", "b"],
            &["c"],
            vec![attr_ints("pads", &[1, 1, 1, 1])],
        ),
        node(
            "BatchNormalization",
            &["c", "s", "bb", "m", "v"],
            &["bn"],
            vec![attr_f("epsilon", 1e-3)],
        ),
        node("Relu", &["bn"], &["y"], vec![]),
    ];
    let mut outputs = vec!["y"];
    if extra_consumer {
        nodes.push(node("Sigmoid", &["c"], &["side"], vec![]));
        outputs.push("side");
    }
    let inits = vec![
        init_f32(
            "w",
            &[o as i64, c as i64, 3, 3],
            &pseudo_random(o * c * 9, 10),
        ),
        init_f32("b", &[o as i64], &pseudo_random(o, 11)),
        init_f32("s", &[o as i64], &[1.5, 0.5, -2.0]),
        init_f32("bb", &[o as i64], &[0.1, -0.2, 0.3]),
        init_f32("m", &[o as i64], &[0.05, 0.0, -0.1]),
        init_f32("v", &[o as i64], &[1.0, 0.25, 4.0]),
    ];
    load_onnx_bytes(&model(
        nodes,
        inits,
        vec![value_info("x", 1, &[1, c as i64, 5, 5])],
        &outputs,
        13,
    ))
    .expect("loads")
}

#[test]
fn float_fusion_batchnorm_folds_into_conv() {
    let folded = conv_bn(false);
    assert_eq!(ops(&folded), vec!["Conv", "Unary(Relu)"]);
    let kept = conv_bn(true);
    assert!(
        ops(&kept).contains(&"Mul".to_string()) && ops(&kept).contains(&"Add".to_string()),
        "{:?}",
        ops(&kept)
    );
    let x = pseudo_random(50, 12);
    close(&run1(&folded, &x), &run1(&kept, &x), 1e-5);
}

#[test]
fn float_fusion_gemm_lowering() {
    let (m, k, n) = (2usize, 3usize, 4usize);
    let a = pseudo_random(m * k, 20);
    let b = pseudo_random(n * k, 21); // stored transposed: [n, k]
    let c = pseudo_random(n, 22);
    let g = load_onnx_bytes(&model(
        vec![node(
            "Gemm",
            &["a", "b", "c"],
            &["y"],
            vec![
                attr_i("transB", 1),
                attr_f("alpha", 0.5),
                attr_f("beta", 2.0),
            ],
        )],
        vec![
            init_f32("b", &[n as i64, k as i64], &b),
            init_f32("c", &[n as i64], &c),
        ],
        vec![value_info("a", 1, &[m as i64, k as i64])],
        &["y"],
        13,
    ))
    .expect("loads");
    assert_eq!(ops(&g), vec!["MatMul", "Add"]);
    let mut want = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f32 = (0..k).map(|t| a[i * k + t] * b[j * k + t]).sum();
            want[i * n + j] = 0.5 * dot + 2.0 * c[j];
        }
    }
    close(&run1(&g, &a), &want, 1e-5);
}

#[test]
fn float_fusion_shape_arithmetic_folds_away() {
    // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) -> a single Reshape.
    let nodes = vec![
        node("Shape", &["x"], &["shp"], vec![]),
        node("Gather", &["shp", "zero"], &["n"], vec![attr_i("axis", 0)]),
        node("Unsqueeze", &["n", "ax0"], &["n1"], vec![]),
        node(
            "Concat",
            &["n1", "minus1"],
            &["target"],
            vec![attr_i("axis", 0)],
        ),
        node("Cast", &["target"], &["target64"], vec![attr_i("to", 7)]),
        node("Reshape", &["x", "target64"], &["r"], vec![]),
        node("Identity", &["r"], &["r2"], vec![]),
        node("Dropout", &["r2"], &["r3"], vec![]),
        node("Split", &["r3"], &["s1", "s2"], vec![attr_i("axis", 1)]),
        node("Sum", &["s1", "s2", "s1"], &["y"], vec![]),
    ];
    let inits = vec![
        init_i64("zero", &[], &[0]),
        init_i64("ax0", &[1], &[0]),
        init_i64("minus1", &[1], &[-1]),
    ];
    let g = load_onnx_bytes(&model(
        nodes,
        inits,
        vec![value_info("x", 1, &[2, 2, 3])],
        &["y"],
        13,
    ))
    .expect("loads");
    assert_eq!(ops(&g), vec!["Reshape", "Slice", "Slice", "Add", "Add"]);
    let x: Vec<f32> = (0..12).map(|v| v as f32).collect();
    // rows of 6: s1 = first 3, s2 = last 3; y = 2*s1 + s2
    let mut want = Vec::new();
    for row in x.chunks(6) {
        for j in 0..3 {
            want.push(2.0 * row[j] + row[3 + j]);
        }
    }
    close(&run1(&g, &x), &want, 0.0);
}

#[test]
fn float_fusion_pow_and_unnamed_nodes() {
    let mut nodes = vec![node("Pow", &["x", "p"], &["y"], vec![])];
    nodes[0].name.clear();
    let g = load_onnx_bytes(&model(
        nodes,
        vec![init_f32("p", &[], &[0.5])],
        vec![value_info("x", 1, &[4])],
        &["y"],
        13,
    ))
    .expect("loads");
    assert_eq!(g.nodes[0].op, FOp::Unary(UnaryFn::Sqrt));
    assert_eq!(g.nodes[0].name, "Pow_0");
    let g = load_onnx_bytes(&model(
        vec![node("Pow", &["x", "p"], &["y"], vec![])],
        vec![init_f32("p", &[], &[1.7])],
        vec![value_info("x", 1, &[4])],
        &["y"],
        13,
    ));
    assert!(matches!(
        g,
        Err(vouch_onnx::OnnxError::UnsupportedOp { .. })
    ));
}
