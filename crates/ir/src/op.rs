//! The closed set of IR operations. Semantics are exact and written down in `docs/ir.md`;
//! the interpreter in `interp.rs` is their executable definition.

use serde::{Deserialize, Serialize};

use crate::table::LookupTable;

/// 2-D window geometry shared by convolution and pooling (NCHW layout).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Vertical and horizontal stride (>= 1).
    pub strides: [usize; 2],
    /// Zero (or, for max pooling, ignored) padding: top, left, bottom, right.
    pub pads: [usize; 4],
    /// Kernel dilation (>= 1).
    pub dilations: [usize; 2],
}

impl Window {
    /// Output spatial size for an input of `h` x `w`, or `None` when the window does not fit.
    pub fn output_hw(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let mut out = [0usize; 2];
        for (i, (len, pads)) in [
            (h, (self.pads[0], self.pads[2])),
            (w, (self.pads[1], self.pads[3])),
        ]
        .into_iter()
        .enumerate()
        {
            let stride = self.strides[i];
            let dil = self.dilations[i];
            if stride == 0 || dil == 0 || self.kernel[i] == 0 {
                return None;
            }
            let padded = len.checked_add(pads.0)?.checked_add(pads.1)?;
            let span = dil.checked_mul(self.kernel[i] - 1)?.checked_add(1)?;
            if padded < span {
                return None;
            }
            out[i] = (padded - span) / stride + 1;
        }
        Some(out)
    }
}

/// Selects how an elementwise binary op combines its operands (numpy broadcasting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Max,
    Min,
}

/// Which reduction a `Reduce` op applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceKind {
    Sum,
    Max,
    Min,
}

/// One IR operation. Inputs are listed in [`crate::Node::inputs`]; every op has one output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `a[.., M, K] @ b[.., K, N] (+ bias[N])`, batch dimensions broadcast, exact i64 sums.
    /// Inputs: a, b, optional bias.
    MatMul,
    /// 2-D convolution, NCHW input, OIHW weights, zero padding, exact i64 sums.
    /// Inputs: x, w, optional bias[O].
    Conv { window: Window, groups: usize },
    /// Elementwise exact integer arithmetic with numpy broadcasting. Inputs: a, b.
    Binary(BinaryKind),
    /// `y = clamp(floor((x * m + 2^(shift-1)) / 2^shift), lo, hi)` (round half up); with
    /// `shift = 0`, `y = clamp(x * m, lo, hi)`. `mults` has one entry (per tensor) or one per
    /// index of `axis` (per channel).
    Requant {
        mults: Vec<i64>,
        axis: Option<usize>,
        shift: u32,
        lo: i64,
        hi: i64,
    },
    /// `y = min(max(x, lo), hi)`.
    Clamp { lo: i64, hi: i64 },
    /// `y = table[x]`; the input range must lie inside the table's domain.
    Lookup(LookupTable),
    /// `y = floor((a * 2^(shift+1) + b) / (2 b))`, i.e. `a * 2^shift / b` rounded half up;
    /// requires `b >= 1`. Inputs: a, b (broadcast).
    DivRound { shift: u32 },
    /// `y = floor(sqrt(x))`; requires `x >= 0`.
    Sqrt,
    /// `y = cond ? a : b` with a constant boolean mask broadcast to the output. Inputs: a, b.
    Where {
        cond_shape: Vec<usize>,
        cond: Vec<bool>,
    },
    /// Sum / max / min over `axes`.
    Reduce {
        kind: ReduceKind,
        axes: Vec<usize>,
        keep_dims: bool,
    },
    /// Window sums over NCHW (padding contributes zeros), exact i64.
    SumPool { window: Window },
    /// Window maxima over NCHW; padded positions are ignored.
    MaxPool { window: Window },
    /// Same data, new shape (same element count).
    Reshape { shape: Vec<usize> },
    /// Axis permutation: output axis `i` is input axis `perm[i]`.
    Transpose { perm: Vec<usize> },
    /// Per axis: `len` elements starting at `start`, stepping by `step` (may be negative).
    Slice {
        starts: Vec<usize>,
        lens: Vec<usize>,
        steps: Vec<i64>,
    },
    /// Concatenation of all inputs along `axis`.
    Concat { axis: usize },
    /// Constant padding: `begin`/`end` elements before/after each axis and `interior`
    /// elements between neighbours (zero insertion, used by transposed convolution).
    Pad {
        begin: Vec<usize>,
        end: Vec<usize>,
        interior: Vec<usize>,
        value: i64,
    },
    /// Selection along `axis` with constant in-range indices (wiring).
    Gather {
        axis: usize,
        indices_shape: Vec<usize>,
        indices: Vec<usize>,
    },
    /// Selection along `axis` with indices from a tensor (e.g. token ids into an embedding).
    /// Inputs: data, indices; the indices' range must lie within `[0, dim)`.
    GatherDynamic { axis: usize },
}

impl Op {
    /// Short stable name used in messages, the pretty-printer and docs.
    pub fn name(&self) -> &'static str {
        match self {
            Op::MatMul => "MatMul",
            Op::Conv { .. } => "Conv",
            Op::Binary(BinaryKind::Add) => "Add",
            Op::Binary(BinaryKind::Sub) => "Sub",
            Op::Binary(BinaryKind::Mul) => "Mul",
            Op::Binary(BinaryKind::Max) => "Max",
            Op::Binary(BinaryKind::Min) => "Min",
            Op::Requant { .. } => "Requant",
            Op::Clamp { .. } => "Clamp",
            Op::Lookup(_) => "Lookup",
            Op::DivRound { .. } => "DivRound",
            Op::Sqrt => "Sqrt",
            Op::Where { .. } => "Where",
            Op::Reduce {
                kind: ReduceKind::Sum,
                ..
            } => "ReduceSum",
            Op::Reduce {
                kind: ReduceKind::Max,
                ..
            } => "ReduceMax",
            Op::Reduce {
                kind: ReduceKind::Min,
                ..
            } => "ReduceMin",
            Op::SumPool { .. } => "SumPool",
            Op::MaxPool { .. } => "MaxPool",
            Op::Reshape { .. } => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Slice { .. } => "Slice",
            Op::Concat { .. } => "Concat",
            Op::Pad { .. } => "Pad",
            Op::Gather { .. } => "Gather",
            Op::GatherDynamic { .. } => "GatherDynamic",
        }
    }

    /// True for ops that only move values (copy constraints in a circuit, no arithmetic).
    pub fn is_wiring(&self) -> bool {
        matches!(
            self,
            Op::Reshape { .. }
                | Op::Transpose { .. }
                | Op::Slice { .. }
                | Op::Concat { .. }
                | Op::Pad { .. }
                | Op::Gather { .. }
        )
    }

    /// Every op kind, one representative name each, for conformance listings.
    pub const KINDS: &'static [&'static str] = &[
        "MatMul",
        "Conv",
        "Add",
        "Sub",
        "Mul",
        "Max",
        "Min",
        "Requant",
        "Clamp",
        "Lookup",
        "DivRound",
        "Sqrt",
        "Where",
        "ReduceSum",
        "ReduceMax",
        "ReduceMin",
        "SumPool",
        "MaxPool",
        "Reshape",
        "Transpose",
        "Slice",
        "Concat",
        "Pad",
        "Gather",
        "GatherDynamic",
    ];
}
