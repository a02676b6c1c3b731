//! # vouch-onnx: the ONNX frontend
//!
//! Imports an ONNX model into a [`FloatGraph`] (static shapes, a small closed op set, weights
//! inline), evaluates it in floating point, and (in later modules) calibrates and quantizes it
//! into the integer IR.
//!
//! Security: the importer reads untrusted files. It never panics on malformed input; every
//! problem is an [`OnnxError`] naming the node, op or tensor, and unknown ops are errors, never
//! skipped. Tensor sizes are capped ([`MAX_ELEMENTS`], [`MAX_FOLDED_ELEMENTS`]).
//!
//! | module | purpose |
//! |---|---|
//! | [`graph`] | the float graph types ([`FloatGraph`], [`FOp`], ...) and shape inference |
//! | `load` / `lower` | ONNX protobuf -> float graph: inputs, initializers, op lowering |
//! | `fold` | constant folding (shape arithmetic, constant subgraphs) |
//! | `fuse` | LayerNorm/GELU/SiLU fusion, BatchNorm folding, dead-node removal |
//! | [`eval`] | the float evaluator ([`FloatGraph::eval`]) |
//!
//! ```no_run
//! let g = vouch_onnx::load_onnx(std::path::Path::new("model.onnx"))?;
//! println!("{}", g.summary());
//! let input = vec![0.0f32; 784];
//! let values = g.eval(&[input])?;
//! let logits = &values[g.outputs[0]];
//! # let _ = logits;
//! # Ok::<(), vouch_onnx::OnnxError>(())
//! ```

use std::path::Path;

pub mod error;
pub mod eval;
mod fold;
mod fuse;
pub mod graph;
mod load;
mod lower;
mod proto;
pub mod quantize;

pub use error::{OnnxError, Result};
pub use graph::{FDType, FNode, FOp, FTensor, FloatGraph, ReduceKind, UnaryFn};
pub use load::{MAX_ELEMENTS, MAX_FOLDED_ELEMENTS};
pub use lower::SUPPORTED_OPS;

/// Reads and imports an ONNX model file.
pub fn load_onnx(path: &Path) -> Result<FloatGraph> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_onnx_bytes(&bytes)
}

/// Imports a serialized ONNX model (`ModelProto` bytes).
pub fn load_onnx_bytes(bytes: &[u8]) -> Result<FloatGraph> {
    load::load_model(bytes)
}
