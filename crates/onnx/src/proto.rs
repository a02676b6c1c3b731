//! Reading the ONNX protobuf: model decoding, initializer payloads and node attributes.
//! Only the generated `tract_onnx::pb` message types are used; op semantics are ours.

use prost::Message;
use tract_onnx::pb;

use crate::error::{OnnxError, Result};
use crate::fold::Konst;

/// Decodes a serialized `ModelProto`.
pub(crate) fn decode_model(bytes: &[u8]) -> Result<pb::ModelProto> {
    if bytes.is_empty() {
        return Err(OnnxError::Decode {
            reason: "the file is empty".into(),
        });
    }
    let model = pb::ModelProto::decode(bytes).map_err(|e| OnnxError::Decode {
        reason: format!(
            "protobuf decoding failed ({e}); the file is truncated or not an ONNX model"
        ),
    })?;
    if model.graph.is_none() {
        return Err(OnnxError::Decode {
            reason: "the message has no graph; this is not an ONNX model".into(),
        });
    }
    Ok(model)
}

/// Element types as they appear in `TensorProto.data_type`.
pub(crate) mod dt {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const UINT16: i32 = 4;
    pub const INT16: i32 = 5;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const BOOL: i32 = 9;
    pub const FLOAT16: i32 = 10;
    pub const DOUBLE: i32 = 11;
    pub const UINT32: i32 = 12;
    pub const UINT64: i32 = 13;
    pub const BFLOAT16: i32 = 16;
}

/// The coarse class an ONNX element type imports as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Float,
    Int,
    Bool,
}

pub(crate) fn dtype_class(t: i32) -> Option<Class> {
    match t {
        dt::FLOAT | dt::FLOAT16 | dt::DOUBLE | dt::BFLOAT16 => Some(Class::Float),
        dt::UINT8
        | dt::INT8
        | dt::UINT16
        | dt::INT16
        | dt::INT32
        | dt::INT64
        | dt::UINT32
        | dt::UINT64 => Some(Class::Int),
        dt::BOOL => Some(Class::Bool),
        _ => None,
    }
}

pub(crate) fn dtype_name(t: i32) -> String {
    pb::tensor_proto::DataType::try_from(t)
        .map(|d| d.as_str_name().to_string())
        .unwrap_or_else(|_| format!("type #{t}"))
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = if exp == 0 {
        if man == 0 {
            sign
        } else {
            // Subnormal: value = man * 2^-24.
            let v = man as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 112) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// Decodes an initializer / constant payload. Returns the shape and the values.
pub(crate) fn tensor_value(t: &pb::TensorProto, name: &str) -> Result<(Vec<usize>, Konst)> {
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        return Err(OnnxError::ExternalData {
            tensor: name.to_string(),
        });
    }
    if t.segment.is_some() {
        return Err(OnnxError::UnsupportedDType {
            tensor: name.to_string(),
            dtype: "segmented tensor".into(),
            hint: "re-save the model without tensor segments".into(),
        });
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| {
            OnnxError::invalid(format!("tensor '{name}' has negative dimension {d}"))
        })?;
        shape.push(d);
    }
    let n = crate::load::checked_numel(&shape, name)?;
    let unsupported = || OnnxError::UnsupportedDType {
        tensor: name.to_string(),
        dtype: dtype_name(t.data_type),
        hint: "supported are float, double, float16, bfloat16, integer and bool tensors".into(),
    };
    let class = dtype_class(t.data_type).ok_or_else(unsupported)?;
    let raw = &t.raw_data;
    let width = match t.data_type {
        dt::UINT8 | dt::INT8 | dt::BOOL => 1,
        dt::UINT16 | dt::INT16 | dt::FLOAT16 | dt::BFLOAT16 => 2,
        dt::FLOAT | dt::INT32 | dt::UINT32 => 4,
        _ => 8,
    };
    let count_err = |got: usize| {
        OnnxError::invalid(format!(
            "tensor '{name}' of shape {shape:?} holds {got} values, expected {n}"
        ))
    };
    if !raw.is_empty() {
        if raw.len() != n.saturating_mul(width) {
            return Err(count_err(raw.len() / width));
        }
        let chunks = raw.chunks_exact(width);
        let k = match t.data_type {
            dt::FLOAT => Konst::F(
                chunks
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            dt::DOUBLE => Konst::F(
                chunks
                    .map(|c| {
                        f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                    })
                    .collect(),
            ),
            dt::FLOAT16 => Konst::F(
                chunks
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
            ),
            dt::BFLOAT16 => Konst::F(
                chunks
                    .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                    .collect(),
            ),
            dt::UINT8 => Konst::I(chunks.map(|c| i64::from(c[0])).collect()),
            dt::INT8 => Konst::I(chunks.map(|c| i64::from(c[0] as i8)).collect()),
            dt::BOOL => Konst::B(chunks.map(|c| c[0] != 0).collect()),
            dt::UINT16 => Konst::I(
                chunks
                    .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
            ),
            dt::INT16 => Konst::I(
                chunks
                    .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
                    .collect(),
            ),
            dt::INT32 => Konst::I(
                chunks
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            dt::UINT32 => Konst::I(
                chunks
                    .map(|c| i64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            dt::INT64 => Konst::I(
                chunks
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            dt::UINT64 => Konst::I(
                chunks
                    .map(|c| {
                        let v =
                            u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                        i64::try_from(v).unwrap_or(i64::MAX)
                    })
                    .collect(),
            ),
            _ => return Err(unsupported()),
        };
        return Ok((shape, k));
    }
    let k = match t.data_type {
        dt::FLOAT => Konst::F(t.float_data.clone()),
        dt::DOUBLE => Konst::F(t.double_data.iter().map(|&v| v as f32).collect()),
        // float16/bfloat16 are stored as their bit patterns in int32_data.
        dt::FLOAT16 => Konst::F(t.int32_data.iter().map(|&v| f16_to_f32(v as u16)).collect()),
        dt::BFLOAT16 => Konst::F(
            t.int32_data
                .iter()
                .map(|&v| f32::from_bits((v as u32 & 0xffff) << 16))
                .collect(),
        ),
        dt::INT64 => Konst::I(t.int64_data.clone()),
        dt::UINT32 | dt::UINT64 => Konst::I(
            t.uint64_data
                .iter()
                .map(|&v| i64::try_from(v).unwrap_or(i64::MAX))
                .collect(),
        ),
        dt::BOOL => Konst::B(t.int32_data.iter().map(|&v| v != 0).collect()),
        _ if class == Class::Int => Konst::I(t.int32_data.iter().map(|&v| i64::from(v)).collect()),
        _ => return Err(unsupported()),
    };
    if k.len() != n {
        return Err(count_err(k.len()));
    }
    Ok((shape, k))
}

/// Attribute access for one node, with errors naming the node and attribute.
pub(crate) struct Attrs<'a> {
    pub node: &'a pb::NodeProto,
    pub name: &'a str,
}

impl<'a> Attrs<'a> {
    fn get(&self, key: &str) -> Option<&'a pb::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn err(&self, key: &str, reason: impl Into<String>) -> OnnxError {
        OnnxError::attr(&self.node.op_type, self.name, key, reason)
    }

    fn typed(&self, key: &str, want: i32) -> Result<Option<&'a pb::AttributeProto>> {
        match self.get(key) {
            None => Ok(None),
            Some(a) if a.r#type == want || a.r#type == 0 => Ok(Some(a)),
            Some(a) => Err(self.err(
                key,
                format!(
                    "expected type {}, got {}",
                    attr_type_name(want),
                    attr_type_name(a.r#type)
                ),
            )),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.typed(key, 2)?.map(|a| a.i))
    }

    pub fn int_or(&self, key: &str, default: i64) -> Result<i64> {
        Ok(self.int(key)?.unwrap_or(default))
    }

    pub fn float(&self, key: &str) -> Result<Option<f32>> {
        Ok(self.typed(key, 1)?.map(|a| a.f))
    }

    pub fn float_or(&self, key: &str, default: f32) -> Result<f32> {
        Ok(self.float(key)?.unwrap_or(default))
    }

    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.typed(key, 7)?.map(|a| a.ints.clone()))
    }

    pub fn floats(&self, key: &str) -> Result<Option<Vec<f32>>> {
        Ok(self.typed(key, 6)?.map(|a| a.floats.clone()))
    }

    pub fn string(&self, key: &str) -> Result<Option<String>> {
        match self.typed(key, 3)? {
            None => Ok(None),
            Some(a) => String::from_utf8(a.s.clone())
                .map(Some)
                .map_err(|_| self.err(key, "not valid UTF-8")),
        }
    }

    pub fn tensor(&self, key: &str) -> Result<Option<&'a pb::TensorProto>> {
        Ok(self.typed(key, 4)?.and_then(|a| a.t.as_ref()))
    }
}

fn attr_type_name(t: i32) -> String {
    pb::attribute_proto::AttributeType::try_from(t)
        .map(|d| d.as_str_name().to_string())
        .unwrap_or_else(|_| format!("type #{t}"))
}
