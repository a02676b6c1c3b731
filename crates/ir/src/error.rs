//! Typed errors for building, validating, decoding and interpreting IR programs.

use thiserror::Error;

/// Everything that can go wrong with an IR program. Messages name the node, op or tensor involved.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IrError {
    #[error("node {node} ({op}): {msg}")]
    Node {
        node: String,
        op: &'static str,
        msg: String,
    },
    #[error("tensor {tensor}: {msg}")]
    Tensor { tensor: String, msg: String },
    #[error("input {name}: expected shape {expected:?}, got {got:?}")]
    InputShape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("input {name}: value {value} at flat index {index} is outside the declared range [{lo}, {hi}]")]
    InputRange {
        name: String,
        index: usize,
        value: i64,
        lo: i64,
        hi: i64,
    },
    #[error("expected {expected} input tensors, got {got}")]
    InputCount { expected: usize, got: usize },
    #[error("tensor {tensor}: {elements} elements exceed the limit of {limit} (dimensions that large would exhaust memory)")]
    TooLarge {
        tensor: String,
        elements: u128,
        limit: u128,
    },
    #[error("malformed program bytes at offset {offset}: {msg}")]
    Decode { offset: usize, msg: String },
    #[error("program references tensor id {0}, which does not exist")]
    UnknownTensor(u32),
}

impl IrError {
    pub(crate) fn node(node: &str, op: &'static str, msg: impl Into<String>) -> Self {
        IrError::Node {
            node: node.to_string(),
            op,
            msg: msg.into(),
        }
    }
}

pub type Result<T, E = IrError> = std::result::Result<T, E>;
