//! Hostile-input robustness: structure-aware mutations of real models (attributes, dims,
//! wiring, op types) and byte-level corruption must give a typed error or a graph that
//! evaluates, never a panic.

mod float_common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use float_common::{models_dir, read_pb};
use prost::Message;
use tract_onnx::pb;
use vouch_onnx::load_onnx_bytes;

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn hostile_int(&mut self) -> i64 {
        const V: &[i64] = &[
            -1,
            0,
            1,
            2,
            3,
            7,
            -2,
            1 << 20,
            1 << 31,
            1 << 40,
            i64::MAX,
            i64::MIN,
            -(1 << 33),
        ];
        V[self.below(V.len())]
    }
    fn hostile_float(&mut self) -> f32 {
        const V: &[f32] = &[
            0.0,
            -1.0,
            1e30,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-30,
            0.5,
        ];
        V[self.below(V.len())]
    }
}

const OPS: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "MaxPool",
    "AveragePool",
    "Gemm",
    "MatMul",
    "Reshape",
    "Slice",
    "Pad",
    "Gather",
    "Concat",
    "Split",
    "Transpose",
    "Softmax",
    "LayerNormalization",
    "BatchNormalization",
    "Resize",
    "Expand",
    "Tile",
    "Squeeze",
    "Unsqueeze",
    "ReduceMean",
    "Flatten",
    "Where",
    "Clip",
    "Pow",
    "DepthToSpace",
    "GroupNormalization",
    "Range",
    "ConstantOfShape",
    "NonMaxSuppression",
];

fn mutate(m: &mut pb::ModelProto, rng: &mut Rng) {
    let Some(g) = m.graph.as_mut() else { return };
    match rng.below(7) {
        0 | 1 => {
            // Attribute values.
            let n = g.node.len();
            if let Some(node) = g.node.get_mut(rng.below(n)) {
                let k = node.attribute.len();
                if let Some(a) = node.attribute.get_mut(rng.below(k)) {
                    match rng.below(4) {
                        0 => a.i = rng.hostile_int(),
                        1 => {
                            let l = a.ints.len();
                            if l > 0 {
                                let j = rng.below(l);
                                a.ints[j] = rng.hostile_int();
                            } else {
                                a.ints.push(rng.hostile_int());
                            }
                        }
                        2 => a.f = rng.hostile_float(),
                        _ => {
                            let l = a.ints.len();
                            a.ints.truncate(rng.below(l + 1));
                        }
                    }
                } else {
                    node.attribute.push(pb::AttributeProto {
                        name: ["axis", "group", "pads", "strides", "perm", "keepdims"]
                            [rng.below(6)]
                        .into(),
                        r#type: 2,
                        i: rng.hostile_int(),
                        ..Default::default()
                    });
                }
            }
        }
        2 => {
            // Initializer dims and payload.
            let n = g.initializer.len();
            if let Some(t) = g.initializer.get_mut(rng.below(n)) {
                match rng.below(3) {
                    0 => {
                        let l = t.dims.len();
                        if l > 0 {
                            let j = rng.below(l);
                            t.dims[j] = rng.hostile_int();
                        }
                    }
                    1 => {
                        let l = t.raw_data.len();
                        t.raw_data.truncate(rng.below(l + 1));
                    }
                    _ => {
                        t.int64_data = (0..rng.below(5)).map(|_| rng.hostile_int()).collect();
                        t.raw_data.clear();
                        t.data_type = 7;
                    }
                }
            }
        }
        3 => {
            // Wiring.
            let n = g.node.len();
            if let Some(node) = g.node.get_mut(rng.below(n)) {
                match rng.below(3) {
                    0 => {
                        let l = node.input.len();
                        node.input.truncate(rng.below(l + 1));
                    }
                    1 => node.input.push(String::new()),
                    _ => node.input.reverse(),
                }
            }
        }
        4 => {
            let n = g.node.len();
            if let Some(node) = g.node.get_mut(rng.below(n)) {
                node.op_type = OPS[rng.below(OPS.len())].into();
            }
        }
        5 => {
            // Graph input dims.
            let n = g.input.len();
            if let Some(pb::type_proto::Value::TensorType(tt)) = g
                .input
                .get_mut(rng.below(n))
                .and_then(|v| v.r#type.as_mut())
                .and_then(|t| t.value.as_mut())
            {
                if let Some(s) = tt.shape.as_mut() {
                    let l = s.dim.len();
                    match rng.below(3) {
                        0 => s.dim.truncate(rng.below(l + 1)),
                        1 => s.dim.push(pb::tensor_shape_proto::Dimension {
                            denotation: String::new(),
                            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(
                                rng.hostile_int(),
                            )),
                        }),
                        _ => {
                            if let Some(d) = s.dim.get_mut(rng.below(l)) {
                                d.value = Some(pb::tensor_shape_proto::dimension::Value::DimValue(
                                    rng.hostile_int(),
                                ));
                            }
                        }
                    }
                }
            }
        }
        _ => {
            for o in &mut m.opset_import {
                o.version = [1, 6, 9, 11, 13, 18, 21, 0, -1, 99][rng.below(10)];
            }
        }
    }
}

/// Loads, and when the graph is small enough, evaluates on zero inputs. Returns whether it panicked.
fn exercise(bytes: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        if let Ok(g) = load_onnx_bytes(bytes) {
            let total: usize = g
                .tensors
                .iter()
                .map(|t| t.shape.iter().product::<usize>())
                .sum();
            if total < 1 << 22 {
                let inputs: Vec<Vec<f32>> = g
                    .inputs
                    .iter()
                    .map(|&i| vec![0.0; g.tensors[i].shape.iter().product()])
                    .collect();
                let _ = g.eval(&inputs);
            }
        }
    }))
    .is_err()
}

/// Seed models: generated models plus node-test cases with their non-first inputs frozen.
fn seeds(dir: &Path) -> Vec<(String, pb::ModelProto)> {
    let mut v = Vec::new();
    for f in [
        "digits_cnn",
        "digits_mlp",
        "gpt2_block_t32_d64_decomposed_random",
        "gpt2_block_t32_d64_random",
    ] {
        if let Ok(b) = std::fs::read(dir.join("models").join(format!("{f}.onnx"))) {
            if let Ok(m) = pb::ModelProto::decode(b.as_slice()) {
                v.push((f.to_string(), m));
            }
        }
    }
    let Ok(rd) = std::fs::read_dir(dir.join("onnx_node_tests")) else {
        return v;
    };
    let mut cases: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    cases.sort();
    for c in cases {
        let name = c
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.contains("expanded") || name.contains("attention") {
            continue;
        }
        let Some(mut m) = std::fs::read(c.join("model.onnx"))
            .ok()
            .and_then(|b| pb::ModelProto::decode(b.as_slice()).ok())
        else {
            continue;
        };
        let Some(g) = m.graph.as_mut() else { continue };
        let names: Vec<String> = g.input.iter().map(|i| i.name.clone()).collect();
        for (k, n) in names.iter().enumerate().skip(1) {
            if let Some(mut t) = read_pb(&c.join("test_data_set_0").join(format!("input_{k}.pb"))) {
                t.name = n.clone();
                g.initializer.push(t);
                g.input.retain(|i| i.name != *n);
            }
        }
        v.push((name, m));
    }
    v
}

#[test]
fn float_fuzz_structured_mutations_never_panic() {
    let Some(dir) = models_dir() else { return };
    let seeds = seeds(&dir);
    assert!(!seeds.is_empty());
    let seed: u64 = std::env::var("VOUCH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut rng = Rng(seed.max(1));
    let rounds: usize = std::env::var("VOUCH_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6000);
    let mut panics = Vec::new();
    for round in 0..rounds {
        let (name, base) = &seeds[rng.below(seeds.len())];
        let mut m = base.clone();
        let steps = 1 + rng.below(3);
        for _ in 0..steps {
            mutate(&mut m, &mut rng);
        }
        let bytes = m.encode_to_vec();
        if exercise(&bytes) {
            let path = std::env::temp_dir().join(format!("vouch_fuzz_{round}.onnx"));
            let _ = std::fs::write(&path, &bytes);
            panics.push(format!(
                "round {round} (seed {name}): panic; model written to {}",
                path.display()
            ));
            if panics.len() > 20 {
                break;
            }
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

#[test]
fn float_fuzz_byte_corruption_never_panics() {
    let Some(dir) = models_dir() else { return };
    let Ok(base) = std::fs::read(dir.join("models/digits_cnn.onnx")) else {
        return;
    };
    let mut rng = Rng(12345);
    for round in 0..3000 {
        let mut b = base.clone();
        match rng.below(3) {
            0 => b.truncate(rng.below(base.len())),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
            }
            _ => {
                let i = rng.below(b.len());
                let j = (i + rng.below(64)).min(b.len());
                b.drain(i..j);
            }
        }
        assert!(!exercise(&b), "round {round}: panic on corrupted bytes");
    }
}
