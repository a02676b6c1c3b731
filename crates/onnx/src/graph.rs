//! The float graph: what an ONNX model becomes after import, folding and fusion.
//!
//! Static shapes only, a small closed op set ([`FOp`]), nodes in topological order, constants
//! (weights) carried inline as `f32`. The quantizer consumes this type; [`FloatGraph::eval`]
//! (in `eval.rs`) is its executable definition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vouch_ir::Window;

/// Element type of a float-graph tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FDType {
    /// Real-valued data (ONNX float, double, float16, bfloat16 all import as `f32`).
    F32,
    /// Integer data, e.g. token ids. Carried as integral `f32` values by the evaluator.
    I64,
}

/// A tensor of the float graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: FDType,
    /// `Some` for constants (weights, folded values), `None` for graph inputs and node outputs.
    pub value: Option<Vec<f32>>,
}

/// One operation of the float graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FNode {
    /// ONNX node name (or `<op_type>_<index>` when the ONNX node has none). Helper nodes created
    /// while lowering one ONNX node carry that name plus a `/suffix`.
    pub name: String,
    /// The ONNX op type this node was lowered from (e.g. `Gemm` for a MatMul).
    pub onnx_op: String,
    pub op: FOp,
    pub inputs: Vec<usize>,
    pub output: usize,
}

/// Elementwise unary functions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum UnaryFn {
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    /// `min(max(x, lo), hi)`; absent bounds are infinite.
    Clip {
        lo: f32,
        hi: f32,
    },
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Erf,
    /// `x * 0.5 * (1 + erf(x / sqrt 2))`.
    Gelu,
    /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    GeluTanh,
    Neg,
    Abs,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x * sigmoid(x)`.
    Silu,
    /// `max(0, min(1, alpha x + beta))`.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `x * max(0, min(1, x / 6 + 1/2))`.
    HardSwish,
}

impl UnaryFn {
    /// Short stable name.
    pub fn name(&self) -> &'static str {
        match self {
            UnaryFn::Relu => "Relu",
            UnaryFn::LeakyRelu { .. } => "LeakyRelu",
            UnaryFn::Clip { .. } => "Clip",
            UnaryFn::Sigmoid => "Sigmoid",
            UnaryFn::Tanh => "Tanh",
            UnaryFn::Exp => "Exp",
            UnaryFn::Log => "Log",
            UnaryFn::Sqrt => "Sqrt",
            UnaryFn::Reciprocal => "Reciprocal",
            UnaryFn::Erf => "Erf",
            UnaryFn::Gelu => "Gelu",
            UnaryFn::GeluTanh => "GeluTanh",
            UnaryFn::Neg => "Neg",
            UnaryFn::Abs => "Abs",
            UnaryFn::Softplus => "Softplus",
            UnaryFn::Silu => "Silu",
            UnaryFn::HardSigmoid { .. } => "HardSigmoid",
            UnaryFn::HardSwish => "HardSwish",
        }
    }

    /// The function itself, evaluated in `f64`.
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            UnaryFn::Relu => x.max(0.0),
            UnaryFn::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    x * f64::from(alpha)
                }
            }
            UnaryFn::Clip { lo, hi } => x.max(f64::from(lo)).min(f64::from(hi)),
            UnaryFn::Sigmoid => sigmoid(x),
            UnaryFn::Tanh => x.tanh(),
            UnaryFn::Exp => x.exp(),
            UnaryFn::Log => x.ln(),
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Reciprocal => 1.0 / x,
            UnaryFn::Erf => libm::erf(x),
            UnaryFn::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            UnaryFn::GeluTanh => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
            }
            UnaryFn::Neg => -x,
            UnaryFn::Abs => x.abs(),
            UnaryFn::Softplus => {
                // ln(1 + e^x) without overflow.
                if x > 0.0 {
                    x + (-x).exp().ln_1p()
                } else {
                    x.exp().ln_1p()
                }
            }
            UnaryFn::Silu => x * sigmoid(x),
            UnaryFn::HardSigmoid { alpha, beta } => {
                (f64::from(alpha) * x + f64::from(beta)).clamp(0.0, 1.0)
            }
            UnaryFn::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        }
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Which reduction a [`FOp::Reduce`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceKind {
    Sum,
    Mean,
    Max,
    Min,
}

/// The closed op set of the float graph. Inputs are listed per variant; all index/geometry
/// parameters are normalised (non-negative, in range, one entry per axis where applicable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FOp {
    /// `a[.., M, K] @ b[.., K, N]` with numpy broadcasting of the batch dims; both ranks >= 2.
    MatMul,
    /// Inputs `x[N, C, H, W]`, `w[O, C/groups, KH, KW]`, optional `bias[O]`.
    Conv {
        window: Window,
        groups: usize,
    },
    /// Elementwise with numpy broadcasting. Inputs: a, b.
    Add,
    Sub,
    Mul,
    Div,
    /// Elementwise maximum / minimum with numpy broadcasting. Inputs: a, b.
    Max,
    Min,
    Unary(UnaryFn),
    Softmax {
        axis: usize,
    },
    /// Normalise over `axis..rank`, then `* gamma + beta`. Inputs: x, gamma, beta, where gamma and
    /// beta have shape `x.shape[axis..]`.
    LayerNorm {
        axis: usize,
        eps: f32,
    },
    /// NCHW; padded positions are ignored.
    MaxPool {
        window: Window,
    },
    /// NCHW average over each window: the sum of its in-bounds elements divided by the kernel area
    /// (`count_include_pad`) or by the number of in-bounds elements. (The importer never emits
    /// `count_include_pad` with a ceil-mode overhang: it pads explicitly instead.)
    AvgPool {
        window: Window,
        count_include_pad: bool,
    },
    /// Reduce over `axes` (sorted, distinct, non-empty).
    Reduce {
        kind: ReduceKind,
        axes: Vec<usize>,
        keep_dims: bool,
    },
    /// Same data, new shape.
    Reshape {
        shape: Vec<usize>,
    },
    /// Output axis `i` is input axis `perm[i]`.
    Transpose {
        perm: Vec<usize>,
    },
    /// Per axis: `lens[i]` elements from `starts[i]`, stepping by `steps[i]` (non-zero, may be
    /// negative); every selected index is in range.
    Slice {
        starts: Vec<usize>,
        lens: Vec<usize>,
        steps: Vec<i64>,
    },
    Concat {
        axis: usize,
    },
    /// Constant padding with `interior` zeros (value) between neighbours, per axis.
    Pad {
        begin: Vec<usize>,
        end: Vec<usize>,
        interior: Vec<usize>,
        value: f32,
    },
    /// Selection along `axis` with constant, in-range indices of shape `indices_shape`.
    Gather {
        axis: usize,
        indices_shape: Vec<usize>,
        indices: Vec<usize>,
    },
    /// Selection along `axis` with indices from a tensor. Inputs: data, indices (I64).
    GatherDynamic {
        axis: usize,
    },
    /// `cond ? a : b` with a constant condition, broadcast. Inputs: a, b.
    Where {
        cond_shape: Vec<usize>,
        cond: Vec<bool>,
    },
}

impl FOp {
    /// Short stable name used in summaries and messages.
    pub fn name(&self) -> &'static str {
        match self {
            FOp::MatMul => "MatMul",
            FOp::Conv { .. } => "Conv",
            FOp::Add => "Add",
            FOp::Sub => "Sub",
            FOp::Mul => "Mul",
            FOp::Div => "Div",
            FOp::Max => "Max",
            FOp::Min => "Min",
            FOp::Unary(_) => "Unary",
            FOp::Softmax { .. } => "Softmax",
            FOp::LayerNorm { .. } => "LayerNorm",
            FOp::MaxPool { .. } => "MaxPool",
            FOp::AvgPool { .. } => "AvgPool",
            FOp::Reduce { .. } => "Reduce",
            FOp::Reshape { .. } => "Reshape",
            FOp::Transpose { .. } => "Transpose",
            FOp::Slice { .. } => "Slice",
            FOp::Concat { .. } => "Concat",
            FOp::Pad { .. } => "Pad",
            FOp::Gather { .. } => "Gather",
            FOp::GatherDynamic { .. } => "GatherDynamic",
            FOp::Where { .. } => "Where",
        }
    }

    /// Name including the unary function / reduction kind, e.g. `Unary(Relu)`.
    pub fn long_name(&self) -> String {
        match self {
            FOp::Unary(f) => format!("Unary({})", f.name()),
            FOp::Reduce { kind, .. } => format!("Reduce({kind:?})"),
            other => other.name().to_string(),
        }
    }

    /// Whether this op is an elementwise binary op with numpy broadcasting.
    pub fn is_binary(&self) -> bool {
        matches!(
            self,
            FOp::Add | FOp::Sub | FOp::Mul | FOp::Div | FOp::Max | FOp::Min
        )
    }

    /// Output shape for the given input shapes, or why they are inconsistent.
    pub fn infer_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let arity = |n: usize| -> Result<(), String> {
            if inputs.len() == n {
                Ok(())
            } else {
                Err(format!("{} inputs, got {}", n, inputs.len()))
            }
        };
        match self {
            FOp::MatMul => {
                arity(2)?;
                let (a, b) = (inputs[0], inputs[1]);
                if a.len() < 2 || b.len() < 2 {
                    return Err(format!("operands of rank >= 2, got {a:?} and {b:?}"));
                }
                let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
                let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
                if k != k2 {
                    return Err(format!("inner dimensions to agree, got {a:?} @ {b:?}"));
                }
                let mut out = broadcast(&[&a[..a.len() - 2], &b[..b.len() - 2]])?;
                out.push(m);
                out.push(n);
                Ok(out)
            }
            FOp::Conv { window, groups } => {
                if inputs.len() != 2 && inputs.len() != 3 {
                    return Err(format!("2 or 3 inputs, got {}", inputs.len()));
                }
                let (x, w) = (inputs[0], inputs[1]);
                if x.len() != 4 || w.len() != 4 {
                    return Err(format!(
                        "x[N,C,H,W] and w[O,C/g,KH,KW], got {x:?} and {w:?}"
                    ));
                }
                let g = *groups;
                if g == 0 || x[1] != w[1].saturating_mul(g) || !w[0].is_multiple_of(g) {
                    return Err(format!(
                        "channels consistent with groups={g}, got x {x:?} and w {w:?}"
                    ));
                }
                if window.kernel != [w[2], w[3]] {
                    return Err(format!("kernel {:?} to match weight {w:?}", window.kernel));
                }
                if let Some(b) = inputs.get(2) {
                    if *b != [w[0]] {
                        return Err(format!("bias of shape [{}], got {b:?}", w[0]));
                    }
                }
                let [oh, ow] = window
                    .output_hw(x[2], x[3])
                    .ok_or_else(|| format!("window {window:?} to fit input {x:?}"))?;
                Ok(vec![x[0], w[0], oh, ow])
            }
            FOp::Add | FOp::Sub | FOp::Mul | FOp::Div | FOp::Max | FOp::Min => {
                arity(2)?;
                broadcast(inputs)
            }
            FOp::Unary(_) => {
                arity(1)?;
                Ok(inputs[0].to_vec())
            }
            FOp::Softmax { axis } => {
                arity(1)?;
                if *axis >= inputs[0].len() {
                    return Err(format!("axis {axis} within rank of {:?}", inputs[0]));
                }
                Ok(inputs[0].to_vec())
            }
            FOp::LayerNorm { axis, eps } => {
                arity(3)?;
                let x = inputs[0];
                if *axis >= x.len() {
                    return Err(format!("axis {axis} within rank of {x:?}"));
                }
                if !(eps.is_finite() && *eps >= 0.0) {
                    return Err(format!("finite non-negative epsilon, got {eps}"));
                }
                let norm = &x[*axis..];
                if inputs[1] != norm || inputs[2] != norm {
                    return Err(format!(
                        "gamma and beta of shape {norm:?}, got {:?} and {:?}",
                        inputs[1], inputs[2]
                    ));
                }
                Ok(x.to_vec())
            }
            FOp::MaxPool { window } | FOp::AvgPool { window, .. } => {
                arity(1)?;
                let x = inputs[0];
                if x.len() != 4 {
                    return Err(format!("input [N,C,H,W], got {x:?}"));
                }
                let [oh, ow] = window
                    .output_hw(x[2], x[3])
                    .ok_or_else(|| format!("window {window:?} to fit input {x:?}"))?;
                Ok(vec![x[0], x[1], oh, ow])
            }
            FOp::Reduce {
                axes, keep_dims, ..
            } => {
                arity(1)?;
                let x = inputs[0];
                check_axes(axes, x.len())?;
                if axes.is_empty() || axes.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!("sorted distinct non-empty axes, got {axes:?}"));
                }
                let mut out = Vec::with_capacity(x.len());
                for (i, &d) in x.iter().enumerate() {
                    if axes.contains(&i) {
                        if *keep_dims {
                            out.push(1);
                        }
                    } else {
                        out.push(d);
                    }
                }
                Ok(out)
            }
            FOp::Reshape { shape } => {
                arity(1)?;
                if numel(shape) != numel(inputs[0]) {
                    return Err(format!(
                        "a shape with as many elements as {:?}, got {shape:?}",
                        inputs[0]
                    ));
                }
                Ok(shape.clone())
            }
            FOp::Transpose { perm } => {
                arity(1)?;
                let x = inputs[0];
                if !is_permutation(perm, x.len()) {
                    return Err(format!("a permutation of 0..{}, got {perm:?}", x.len()));
                }
                Ok(perm.iter().map(|&p| x[p]).collect())
            }
            FOp::Slice {
                starts,
                lens,
                steps,
            } => {
                arity(1)?;
                let x = inputs[0];
                let r = x.len();
                if starts.len() != r || lens.len() != r || steps.len() != r {
                    return Err(format!("one start/len/step per axis of {x:?}"));
                }
                for i in 0..r {
                    if lens[i] == 0 {
                        continue;
                    }
                    let step = steps[i];
                    let last = starts[i] as i128 + (lens[i] as i128 - 1) * step as i128;
                    if step == 0 || starts[i] >= x[i] || last < 0 || last >= x[i] as i128 {
                        return Err(format!(
                            "in-range slice on axis {i} of {x:?}, got start {} len {} step {step}",
                            starts[i], lens[i]
                        ));
                    }
                }
                Ok(lens.clone())
            }
            FOp::Concat { axis } => {
                let first = inputs.first().ok_or("at least one input")?;
                if *axis >= first.len() {
                    return Err(format!("axis {axis} within rank of {first:?}"));
                }
                let mut out = first.to_vec();
                out[*axis] = 0;
                for s in inputs {
                    let same = s.len() == first.len()
                        && s.iter()
                            .zip(first.iter())
                            .enumerate()
                            .all(|(i, (a, b))| i == *axis || a == b);
                    if !same {
                        return Err(format!("inputs equal off axis {axis}, got {inputs:?}"));
                    }
                    out[*axis] = out[*axis].checked_add(s[*axis]).ok_or("overflow")?;
                }
                Ok(out)
            }
            FOp::Pad {
                begin,
                end,
                interior,
                ..
            } => {
                arity(1)?;
                let x = inputs[0];
                let r = x.len();
                if begin.len() != r || end.len() != r || interior.len() != r {
                    return Err(format!("one begin/end/interior per axis of {x:?}"));
                }
                let mut out = Vec::with_capacity(r);
                for i in 0..r {
                    let inner = x[i]
                        .checked_add(
                            interior[i]
                                .checked_mul(x[i].saturating_sub(1))
                                .ok_or("overflow")?,
                        )
                        .ok_or("overflow")?;
                    out.push(
                        inner
                            .checked_add(begin[i])
                            .and_then(|v| v.checked_add(end[i]))
                            .ok_or("overflow")?,
                    );
                }
                Ok(out)
            }
            FOp::Gather {
                axis,
                indices_shape,
                indices,
            } => {
                arity(1)?;
                let x = inputs[0];
                let dim = *x
                    .get(*axis)
                    .ok_or_else(|| format!("axis {axis} within rank of {x:?}"))?;
                if numel(indices_shape) != Some(indices.len()) {
                    return Err(format!(
                        "{} indices for shape {indices_shape:?}",
                        indices.len()
                    ));
                }
                if let Some(bad) = indices.iter().find(|&&i| i >= dim) {
                    return Err(format!("indices below {dim}, got {bad}"));
                }
                let mut out = x[..*axis].to_vec();
                out.extend_from_slice(indices_shape);
                out.extend_from_slice(&x[*axis + 1..]);
                Ok(out)
            }
            FOp::GatherDynamic { axis } => {
                arity(2)?;
                let x = inputs[0];
                if *axis >= x.len() {
                    return Err(format!("axis {axis} within rank of {x:?}"));
                }
                let mut out = x[..*axis].to_vec();
                out.extend_from_slice(inputs[1]);
                out.extend_from_slice(&x[*axis + 1..]);
                Ok(out)
            }
            FOp::Where { cond_shape, cond } => {
                arity(2)?;
                if numel(cond_shape) != Some(cond.len()) {
                    return Err(format!(
                        "{} condition values for shape {cond_shape:?}",
                        cond.len()
                    ));
                }
                broadcast(&[cond_shape, inputs[0], inputs[1]])
            }
        }
    }
}

/// The whole imported model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatGraph {
    pub tensors: Vec<FTensor>,
    /// Topologically ordered.
    pub nodes: Vec<FNode>,
    /// Graph inputs (tensor ids), in ONNX order; the values passed to `eval` follow this order.
    pub inputs: Vec<usize>,
    /// Graph outputs (tensor ids), in ONNX order.
    pub outputs: Vec<usize>,
}

impl FloatGraph {
    /// Number of nodes per op (`Unary(..)` and `Reduce(..)` split by function/kind).
    pub fn op_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for n in &self.nodes {
            *m.entry(n.op.long_name()).or_insert(0) += 1;
        }
        m
    }

    /// Total number of constant elements (weights) referenced by nodes.
    pub fn param_count(&self) -> usize {
        self.tensors
            .iter()
            .filter_map(|t| t.value.as_ref().map(Vec::len))
            .sum()
    }

    /// One-line human-readable summary: node/tensor/parameter counts and op counts.
    pub fn summary(&self) -> String {
        let ops: Vec<String> = self
            .op_counts()
            .into_iter()
            .map(|(k, v)| format!("{k} x{v}"))
            .collect();
        format!(
            "{} nodes, {} tensors, {} parameters: {}",
            self.nodes.len(),
            self.tensors.len(),
            self.param_count(),
            ops.join(", ")
        )
    }

    /// For each tensor, the indices of the nodes that read it (a node reading a tensor twice is
    /// listed once).
    pub fn consumers(&self) -> Vec<Vec<usize>> {
        let mut c = vec![Vec::new(); self.tensors.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &t in &n.inputs {
                if let Some(list) = c.get_mut(t) {
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        c
    }

    /// For each tensor, the index of the node that produces it, if any.
    pub fn producers(&self) -> Vec<Option<usize>> {
        let mut p = vec![None; self.tensors.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(slot) = p.get_mut(n.output) {
                *slot = Some(i);
            }
        }
        p
    }

    /// Tensor id by name.
    pub fn tensor_by_name(&self, name: &str) -> Option<usize> {
        self.tensors.iter().position(|t| t.name == name)
    }

    /// Checks the structural invariants: ids in range, topological order, each tensor produced
    /// at most once and never a constant or input, shapes consistent with [`FOp::infer_shape`],
    /// constant lengths matching shapes.
    pub fn validate(&self) -> Result<(), String> {
        let nt = self.tensors.len();
        let mut defined = vec![false; nt];
        for t in &self.tensors {
            if numel_u128(&t.shape).1 > 1 << 31 {
                return Err(format!(
                    "tensor '{}' of shape {:?} is too large",
                    t.name, t.shape
                ));
            }
        }
        for (i, t) in self.tensors.iter().enumerate() {
            if let Some(v) = &t.value {
                if numel(&t.shape) != Some(v.len()) {
                    return Err(format!(
                        "constant '{}' has {} values for shape {:?}",
                        t.name,
                        v.len(),
                        t.shape
                    ));
                }
                defined[i] = true;
            }
        }
        for &i in &self.inputs {
            let d = defined
                .get_mut(i)
                .ok_or_else(|| format!("input id {i} out of range"))?;
            if *d {
                return Err(format!(
                    "input id {i} is also a constant or a repeated input"
                ));
            }
            *d = true;
        }
        for n in &self.nodes {
            let mut shapes = Vec::with_capacity(n.inputs.len());
            for &t in &n.inputs {
                if !defined.get(t).copied().unwrap_or(false) {
                    return Err(format!(
                        "node '{}' reads tensor {t} before it is defined",
                        n.name
                    ));
                }
                shapes.push(self.tensors[t].shape.as_slice());
            }
            let out =
                n.op.infer_shape(&shapes)
                    .map_err(|e| format!("node '{}' ({}): expected {e}", n.name, n.op.name()))?;
            let o = self
                .tensors
                .get(n.output)
                .ok_or_else(|| format!("node '{}' output id out of range", n.name))?;
            if o.shape != out {
                return Err(format!(
                    "node '{}' output '{}' has shape {:?}, inferred {out:?}",
                    n.name, o.name, o.shape
                ));
            }
            if defined[n.output] {
                return Err(format!("tensor '{}' is defined twice", o.name));
            }
            defined[n.output] = true;
        }
        for &o in &self.outputs {
            if !defined.get(o).copied().unwrap_or(false) {
                return Err(format!("output id {o} is never defined"));
            }
        }
        Ok(())
    }
}

/// Element count and product of the non-zero dimensions, saturating.
pub(crate) fn numel_u128(shape: &[usize]) -> (u128, u128) {
    let mut n: u128 = 1;
    let mut nz: u128 = 1;
    for &d in shape {
        n = n.saturating_mul(d as u128);
        if d != 0 {
            nz = nz.saturating_mul(d as u128);
        }
    }
    (n, nz)
}

/// Number of elements of a shape, `None` on overflow.
pub fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// Numpy broadcast of several shapes (the IR's rule, so both layers agree).
pub fn broadcast(shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    vouch_ir::broadcast(shapes)
}

fn check_axes(axes: &[usize], rank: usize) -> Result<(), String> {
    for (i, &a) in axes.iter().enumerate() {
        if a >= rank || axes[..i].contains(&a) {
            return Err(format!("distinct axes below rank {rank}, got {axes:?}"));
        }
    }
    Ok(())
}

pub(crate) fn is_permutation(perm: &[usize], rank: usize) -> bool {
    if perm.len() != rank {
        return false;
    }
    let mut seen = vec![false; rank];
    for &p in perm {
        match seen.get_mut(p) {
            Some(s) if !*s => *s = true,
            _ => return false,
        }
    }
    true
}
