//! # vouch-ir: the quantized integer program every Vouch proof is about
//!
//! A [`Program`] is a list of integer tensor operations from a small closed set ([`Op`]), with
//! weights, declared input ranges and derived output ranges. The reference [`interp`]reter
//! defines what every proving backend must prove, bit for bit. Exact semantics: `docs/ir.md`.
//!
//! | module | purpose |
//! |---|---|
//! | [`tensor`] | integer tensors and value ranges |
//! | [`op`] | the op set |
//! | [`table`] | lookup tables for non-linear functions |
//! | [`program`] | programs and the builder that derives shapes and ranges |
//! | [`interp`] | the reference interpreter (witness generator) |
//! | [`codec`] | canonical serialization and the SHA-256 digest that names a program |
//! | [`pretty`] | human-readable listing |

pub mod codec;
pub mod error;
mod infer;
pub mod interp;
pub mod op;
pub mod pretty;
pub mod program;
pub mod table;
pub mod tensor;

pub use codec::Digest;
pub use error::{IrError, Result};
pub use infer::{broadcast, isqrt};
pub use op::{BinaryKind, Op, ReduceKind, Window};
pub use program::{Node, Program, ProgramBuilder, TensorId, TensorInfo, TensorKind};
pub use table::{LookupTable, TableFn};
pub use tensor::{Range, Tensor};
