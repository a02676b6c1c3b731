//! Typed errors of the ONNX frontend. Every message names the node, op or tensor involved and,
//! where there is one, what to do about it.

use thiserror::Error;

/// Everything that can go wrong while importing or evaluating an ONNX model.
#[derive(Debug, Error)]
pub enum OnnxError {
    /// The file could not be read from disk.
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a readable ONNX protobuf (garbage, truncated, or not a model at all).
    #[error("not a readable ONNX model: {reason}")]
    Decode { reason: String },
    /// The protobuf decoded but the model is malformed (duplicate names, cycles, missing opset...).
    #[error("invalid ONNX model: {reason}")]
    InvalidModel { reason: String },
    /// An op (or an op configuration) the frontend cannot lower. Never skipped silently.
    #[error("unsupported op {op} at node '{node}': {hint}")]
    UnsupportedOp {
        op: String,
        node: String,
        hint: String,
    },
    /// An attribute is missing, of the wrong type, or has a value outside what the op allows.
    #[error("node '{node}' ({op}): attribute '{attribute}': {reason}")]
    BadAttribute {
        node: String,
        op: String,
        attribute: String,
        reason: String,
    },
    /// Operand shapes are inconsistent.
    #[error("node '{node}' ({op}): shape mismatch: expected {expected}, got {got}")]
    ShapeMismatch {
        node: String,
        op: String,
        expected: String,
        got: String,
    },
    /// A node refers to a tensor that no initializer, input or earlier node provides.
    #[error("node '{node}' ({op}): input '{input}' is not produced by any initializer, graph input or node")]
    MissingInput {
        node: String,
        op: String,
        input: String,
    },
    /// An input that must be known at import time (a shape, axes, pads, a condition) is computed
    /// from model inputs.
    #[error("node '{node}' ({op}): input '{input}' must be constant at import time: {hint}")]
    NotConstant {
        node: String,
        op: String,
        input: String,
        hint: String,
    },
    /// A graph input has a symbolic or unknown dimension other than the batch dimension.
    #[error("graph input '{input}': dimension {dim} is {got}; only the leading batch dimension may be symbolic (it becomes 1). Re-export with static shapes (e.g. fixed sequence length)")]
    DynamicShape {
        input: String,
        dim: usize,
        got: String,
    },
    /// A tensor element type the frontend does not handle.
    #[error("tensor '{tensor}': element type {dtype} is not supported ({hint})")]
    UnsupportedDType {
        tensor: String,
        dtype: String,
        hint: String,
    },
    /// A weight or constant holds NaN or an infinity.
    #[error("tensor '{tensor}': value at flat index {index} is {value} (weights and constants must be finite)")]
    NonFinite {
        tensor: String,
        index: usize,
        value: f32,
    },
    /// A tensor has more elements than the frontend accepts.
    #[error("tensor '{tensor}': {elements} elements exceed the limit of {limit}")]
    TooLarge {
        tensor: String,
        elements: u128,
        limit: u128,
    },
    /// The model keeps its weights in external files, which this frontend does not read.
    #[error("tensor '{tensor}' is stored as external data; re-save the model with all tensors inside the file (onnx.save_model(m, path, save_as_external_data=False))")]
    ExternalData { tensor: String },
    /// A runtime input does not match the graph.
    #[error("input {index} ('{name}'): {reason}")]
    BadInput {
        index: usize,
        name: String,
        reason: String,
    },
    /// Wrong number of runtime inputs.
    #[error("expected {expected} input tensors, got {got}")]
    InputCount { expected: usize, got: usize },
    /// Evaluation of a node failed (e.g. a token id out of range).
    #[error("node '{node}' ({op}): evaluation failed: {reason}")]
    Eval {
        node: String,
        op: String,
        reason: String,
    },
}

impl OnnxError {
    pub(crate) fn unsupported(op: &str, node: &str, hint: impl Into<String>) -> Self {
        OnnxError::UnsupportedOp {
            op: op.to_string(),
            node: node.to_string(),
            hint: hint.into(),
        }
    }

    pub(crate) fn attr(op: &str, node: &str, attribute: &str, reason: impl Into<String>) -> Self {
        OnnxError::BadAttribute {
            node: node.to_string(),
            op: op.to_string(),
            attribute: attribute.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn shape(
        op: &str,
        node: &str,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        OnnxError::ShapeMismatch {
            node: node.to_string(),
            op: op.to_string(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        OnnxError::InvalidModel {
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = OnnxError> = std::result::Result<T, E>;
