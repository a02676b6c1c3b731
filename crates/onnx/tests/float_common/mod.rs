//! Test helpers shared by the float-frontend tests: locating the generated model directory and
//! a minimal `.npy` reader (f32 / f64 / i64 / i32, C order).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb;

/// The generated models directory (`VOUCH_MODELS`, default `<repo>/../models/out`), or `None`
/// (after printing a note) when it is absent.
pub fn models_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("VOUCH_MODELS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../models/out"),
    };
    if dir.join("manifest.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "NOTE: model directory {} not found; skipping (set VOUCH_MODELS or run the model generator)",
            dir.display()
        );
        None
    }
}

/// A numeric array read from a `.npy` file, converted to `f32`.
#[derive(Debug)]
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

pub fn read_npy(path: &Path) -> Result<Npy, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_npy(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse_npy(b: &[u8]) -> Result<Npy, String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("not an npy file".into());
    }
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        _ => {
            if b.len() < 12 {
                return Err("truncated header".into());
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
    };
    let header = std::str::from_utf8(b.get(start..start + hlen).ok_or("truncated header")?)
        .map_err(|_| "header is not UTF-8")?;
    let field = |key: &str| -> Result<&str, String> {
        let i = header.find(key).ok_or(format!("no {key} in header"))? + key.len();
        Ok(header[i..].trim_start_matches([' ', ':', '\'']))
    };
    let descr = field("'descr'")?;
    let descr = &descr[..descr.find('\'').ok_or("bad descr")?];
    if field("'fortran_order'")?.starts_with("True") {
        return Err("fortran order is not supported".into());
    }
    let shape_s = field("'shape'")?;
    let shape_s = &shape_s
        [shape_s.find('(').ok_or("bad shape")? + 1..shape_s.find(')').ok_or("bad shape")?];
    let shape: Vec<usize> = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let n: usize = shape.iter().product();
    let body = &b[start + hlen..];
    let data: Vec<f32> = match descr {
        "<f4" => body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "<f8" => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        "<i8" => body
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        "<i4" => body
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        "|u1" => body.iter().map(|&v| f32::from(v)).collect(),
        other => return Err(format!("unsupported dtype {other}")),
    };
    if data.len() != n {
        return Err(format!("expected {n} values, got {}", data.len()));
    }
    Ok(Npy { shape, data })
}

/// Max absolute difference and the max absolute reference value.
pub fn max_err(got: &[f32], want: &[f32]) -> (f32, f32) {
    let d = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(
            0f32,
            |m, v| if v.is_nan() { f32::INFINITY } else { m.max(v) },
        );
    let r = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    (d, r)
}

/// Decodes a test-data TensorProto into (shape, values as f32, is_float).
pub fn tensor_f32(t: &pb::TensorProto) -> Option<(Vec<usize>, Vec<f32>, bool)> {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let raw = &t.raw_data;
    let (data, is_float): (Vec<f32>, bool) = match t.data_type {
        1 if !raw.is_empty() => (
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            true,
        ),
        1 => (t.float_data.clone(), true),
        11 if !raw.is_empty() => (
            raw.chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            true,
        ),
        11 => (t.double_data.iter().map(|&v| v as f32).collect(), true),
        7 if !raw.is_empty() => (
            raw.chunks_exact(8)
                .map(|c| {
                    i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            false,
        ),
        7 => (t.int64_data.iter().map(|&v| v as f32).collect(), false),
        6 if !raw.is_empty() => (
            raw.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            false,
        ),
        6 => (t.int32_data.iter().map(|&v| v as f32).collect(), false),
        10 if !raw.is_empty() => (
            raw.chunks_exact(2)
                .map(|c| f16(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            true,
        ),
        10 => (t.int32_data.iter().map(|&v| f16(v as u16)).collect(), true),
        16 if !raw.is_empty() => (
            raw.chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                .collect(),
            true,
        ),
        4 if !raw.is_empty() => (
            raw.chunks_exact(2)
                .map(|c| f32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            false,
        ),
        5 if !raw.is_empty() => (
            raw.chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
            false,
        ),
        4 | 5 => (t.int32_data.iter().map(|&v| v as f32).collect(), false),
        12 if !raw.is_empty() => (
            raw.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            false,
        ),
        13 if !raw.is_empty() => (
            raw.chunks_exact(8)
                .map(|c| {
                    u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            false,
        ),
        12 | 13 => (t.uint64_data.iter().map(|&v| v as f32).collect(), false),
        9 | 2 if !raw.is_empty() => (raw.iter().map(|&v| f32::from(v)).collect(), false),
        3 if !raw.is_empty() => (raw.iter().map(|&v| f32::from(v as i8)).collect(), false),
        9 | 2 | 3 => (t.int32_data.iter().map(|&v| v as f32).collect(), false),
        _ => return None,
    };
    (data.len() == shape.iter().product::<usize>()).then_some((shape, data, is_float))
}

pub fn f16(h: u16) -> f32 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let man = f32::from(h & 0x3ff);
    sign * match exp {
        0 => man * 2f32.powi(-24),
        31 if man == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + man / 1024.0) * 2f32.powi(e - 15),
    }
}

pub fn read_pb(path: &Path) -> Option<pb::TensorProto> {
    pb::TensorProto::decode(std::fs::read(path).ok()?.as_slice()).ok()
}

// ----- building small ONNX models in tests ------------------------------------------------

pub fn attr_i(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 2,
        i: v,
        ..Default::default()
    }
}

pub fn attr_f(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 1,
        f: v,
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_s(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: 3,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub fn node(
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: format!("{op}_{}", outputs.first().copied().unwrap_or("")),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

/// A float initializer (raw little-endian data).
pub fn init_f32(name: &str, dims: &[i64], data: &[f32]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// An int64 initializer (`int64_data`).
pub fn init_i64(name: &str, dims: &[i64], data: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

/// A tensor value-info; negative dims become symbolic ("N").
pub fn value_info(name: &str, elem_type: i32, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            denotation: String::new(),
            value: Some(if d < 0 {
                Value::DimParam("N".into())
            } else {
                Value::DimValue(d)
            }),
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
        }),
        doc_string: String::new(),
    }
}

pub fn model(
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
    inputs: Vec<pb::ValueInfoProto>,
    outputs: &[&str],
    opset: i64,
) -> Vec<u8> {
    let m = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(pb::GraphProto {
            node: nodes,
            name: "test".into(),
            initializer: inits,
            input: inputs,
            output: outputs.iter().map(|o| value_info(o, 1, &[])).collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    m.encode_to_vec()
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}
