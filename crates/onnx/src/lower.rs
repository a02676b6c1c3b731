//! Lowering of each ONNX op into float-graph ops (or into constants, when everything is known
//! at import time). Unknown ops and unsupported configurations are typed errors, never skipped.

use tract_onnx::pb;
use vouch_ir::Window;

use crate::error::{OnnxError, Result};
use crate::eval::{self, In};
use crate::fold::Konst;
use crate::graph::{broadcast, numel, FOp, ReduceKind, UnaryFn};
use crate::load::{Builder, Site, MAX_FOLDED_ELEMENTS};
use crate::proto::{self, Attrs, Class};

/// The ONNX ops this frontend lowers (some only when their inputs are constant).
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "CastLike",
    "Ceil",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "DepthToSpace",
    "Div",
    "Dropout",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "InstanceNormalization",
    "GroupNormalization",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "NonZero",
    "Not",
    "Or",
    "Pad",
    "Pow",
    "PRelu",
    "Range",
    "Reciprocal",
    "Resize (nearest)",
    "RMSNormalization",
    "ReduceL1",
    "ReduceL2",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Round",
    "Shape",
    "Sigmoid",
    "Sign",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "SpaceToDepth",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Swish",
    "Tanh",
    "Tile",
    "Transpose",
    "Unsqueeze",
    "Upsample (nearest)",
    "Where",
    "Xor",
];

/// Lowers one ONNX node. Returns one entry per ONNX output: the tensor it maps to, or `None`
/// for an optional output this frontend does not provide.
pub(crate) fn lower(
    b: &mut Builder,
    site: &Site,
    node: &pb::NodeProto,
    opset: i64,
    ins: &[Option<usize>],
) -> Result<Vec<Option<usize>>> {
    let mut l = L {
        b,
        site,
        node,
        opset,
        ins,
        a: Attrs {
            node,
            name: &site.node,
        },
    };
    l.dispatch()
}

struct L<'a> {
    b: &'a mut Builder,
    site: &'a Site,
    node: &'a pb::NodeProto,
    opset: i64,
    ins: &'a [Option<usize>],
    a: Attrs<'a>,
}

fn one(t: usize) -> Vec<Option<usize>> {
    vec![Some(t)]
}

/// Largest value accepted for a size-like attribute (kernel, stride, pad, group, ...); keeps all
/// geometry arithmetic far from overflow.
const MAX_ATTR: i64 = 1 << 31;

fn usize_of(v: i64, what: &str) -> std::result::Result<usize, String> {
    if v > MAX_ATTR {
        return Err(format!(
            "{what} value {v} is implausibly large (limit {MAX_ATTR})"
        ));
    }
    usize::try_from(v).map_err(|_| format!("{what} must be non-negative, got {v}"))
}

impl L<'_> {
    // ----- plumbing -------------------------------------------------------------------------

    fn op(&self) -> &str {
        &self.site.op
    }

    fn out_name(&self, k: usize) -> String {
        match self.node.output.get(k) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("{}:{k}", self.site.node),
        }
    }

    fn input(&self, i: usize) -> Result<usize> {
        self.opt(i).ok_or_else(|| OnnxError::MissingInput {
            node: self.site.node.clone(),
            op: self.site.op.clone(),
            input: format!("#{i} (required input is absent)"),
        })
    }

    fn opt(&self, i: usize) -> Option<usize> {
        self.ins.get(i).copied().flatten()
    }

    fn shape(&self, t: usize) -> Vec<usize> {
        self.b.shape(t).to_vec()
    }

    fn rank(&self, t: usize) -> usize {
        self.b.shape(t).len()
    }

    fn unsupported(&self, hint: impl Into<String>) -> OnnxError {
        OnnxError::unsupported(&self.site.op, &self.site.node, hint)
    }

    fn bad(&self, key: &str, reason: impl Into<String>) -> OnnxError {
        self.a.err(key, reason)
    }

    fn shape_err(&self, expected: impl Into<String>, got: impl Into<String>) -> OnnxError {
        OnnxError::shape(&self.site.op, &self.site.node, expected, got)
    }

    fn input_name(&self, i: usize) -> String {
        self.node
            .input
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{i}"))
    }

    fn not_const(&self, i: usize, hint: &str) -> OnnxError {
        OnnxError::NotConstant {
            node: self.site.node.clone(),
            op: self.site.op.clone(),
            input: self.input_name(i),
            hint: hint.to_string(),
        }
    }

    /// The constant value of input `i`.
    fn konst(&self, i: usize, hint: &str) -> Result<Konst> {
        let t = self.input(i)?;
        self.b
            .konst_of(t)
            .cloned()
            .ok_or_else(|| self.not_const(i, hint))
    }

    fn const_ints(&self, i: usize, what: &str) -> Result<Vec<i64>> {
        let k = self.konst(i, &format!("{what} must be known at import time"))?;
        k.to_i64().ok_or_else(|| {
            self.shape_err(format!("integer {what}"), "non-integral values".to_string())
        })
    }

    fn const_scalar(&self, i: usize, what: &str) -> Result<f64> {
        let k = self.konst(i, &format!("{what} must be known at import time"))?;
        let v = k.to_f64();
        match v.as_slice() {
            [x] => Ok(*x),
            _ => Err(self.shape_err(
                format!("a single {what} value"),
                format!("{} values", v.len()),
            )),
        }
    }

    /// Adds a node (or folds it). `suffix` distinguishes helper nodes: empty for the node that
    /// carries the ONNX node's own name.
    fn emit(&mut self, suffix: &str, out: String, op: FOp, inputs: Vec<usize>) -> Result<usize> {
        let name = if suffix.is_empty() {
            self.site.node.clone()
        } else {
            format!("{}/{}", self.site.node, suffix)
        };
        self.b.node(self.site, name, out, op, inputs)
    }

    /// A helper node whose output is internal to this ONNX node.
    fn aux(&mut self, suffix: &str, op: FOp, inputs: Vec<usize>) -> Result<usize> {
        let out = format!("{}/{}", self.out_name(0), suffix);
        self.emit(suffix, out, op, inputs)
    }

    /// The node producing ONNX output 0, carrying the ONNX node's name.
    fn fin(&mut self, op: FOp, inputs: Vec<usize>) -> Result<usize> {
        let out = self.out_name(0);
        self.emit("", out, op, inputs)
    }

    /// The node producing ONNX output 0 when it is a helper (the main op came earlier).
    fn fin_as(&mut self, suffix: &str, op: FOp, inputs: Vec<usize>) -> Result<usize> {
        let out = self.out_name(0);
        self.emit(suffix, out, op, inputs)
    }

    fn cst(&mut self, suffix: &str, shape: Vec<usize>, k: Konst) -> Result<usize> {
        let name = if suffix.is_empty() {
            self.out_name(0)
        } else {
            format!("{}/{}", self.out_name(0), suffix)
        };
        self.b.add_const(name, shape, k)
    }

    /// Refuses import-time allocations beyond [`MAX_FOLDED_ELEMENTS`] (index tables, filled
    /// constants) before making them.
    fn check_alloc(&self, n: usize) -> Result<()> {
        if n > MAX_FOLDED_ELEMENTS {
            return Err(OnnxError::TooLarge {
                tensor: self.out_name(0),
                elements: n as u128,
                limit: MAX_FOLDED_ELEMENTS as u128,
            });
        }
        Ok(())
    }

    fn scalar(&mut self, suffix: &str, v: f32) -> Result<usize> {
        self.cst(suffix, vec![], Konst::F(vec![v]))
    }

    fn reshape(&mut self, suffix: &str, t: usize, shape: Vec<usize>) -> Result<usize> {
        if self.b.shape(t) == shape.as_slice() {
            return Ok(t);
        }
        self.aux(suffix, FOp::Reshape { shape }, vec![t])
    }

    /// Normalises an axis in `[-rank, rank)`.
    fn axis(&self, v: i64, rank: usize, key: &str) -> Result<usize> {
        let r = rank as i64;
        if v < -r || v >= r {
            return Err(self.bad(key, format!("axis {v} out of range for rank {rank}")));
        }
        Ok(if v < 0 { (v + r) as usize } else { v as usize })
    }

    fn axes(&self, vals: &[i64], rank: usize, key: &str) -> Result<Vec<usize>> {
        let mut out = Vec::with_capacity(vals.len());
        for &v in vals {
            let a = self.axis(v, rank, key)?;
            if out.contains(&a) {
                return Err(self.bad(key, format!("axis {v} repeated")));
            }
            out.push(a);
        }
        Ok(out)
    }

    fn int_attr_usize(&self, key: &str, default: i64) -> Result<usize> {
        let v = self.a.int_or(key, default)?;
        usize_of(v, key).map_err(|e| self.bad(key, e))
    }

    fn ints_attr_usize(&self, key: &str) -> Result<Option<Vec<usize>>> {
        match self.a.ints(key)? {
            None => Ok(None),
            Some(v) => v
                .iter()
                .map(|&x| usize_of(x, key))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Some)
                .map_err(|e| self.bad(key, e)),
        }
    }

    // ----- dispatch -------------------------------------------------------------------------

    fn dispatch(&mut self) -> Result<Vec<Option<usize>>> {
        let op = self.site.op.clone();
        let unary = |f: UnaryFn| Some(f);
        let simple = match op.as_str() {
            "Relu" => unary(UnaryFn::Relu),
            "Sigmoid" => unary(UnaryFn::Sigmoid),
            "Tanh" => unary(UnaryFn::Tanh),
            "Exp" => unary(UnaryFn::Exp),
            "Log" => unary(UnaryFn::Log),
            "Sqrt" => unary(UnaryFn::Sqrt),
            "Reciprocal" => unary(UnaryFn::Reciprocal),
            "Erf" => unary(UnaryFn::Erf),
            "Neg" => unary(UnaryFn::Neg),
            "Abs" => unary(UnaryFn::Abs),
            "Softplus" => unary(UnaryFn::Softplus),
            "HardSwish" => unary(UnaryFn::HardSwish),
            _ => None,
        };
        if let Some(f) = simple {
            let x = self.input(0)?;
            return Ok(one(self.fin(FOp::Unary(f), vec![x])?));
        }
        match op.as_str() {
            "Identity" => Ok(one(self.input(0)?)),
            "Dropout" => self.dropout(),
            "Cast" | "CastLike" => self.cast(),
            "Constant" => self.constant(),
            "Add" => self.binary(FOp::Add),
            "Sub" => self.binary(FOp::Sub),
            "Mul" => self.binary(FOp::Mul),
            "Div" => self.binary(FOp::Div),
            "Sum" | "Max" | "Min" | "Mean" => self.variadic(),
            "Pow" => self.pow(),
            "LeakyRelu" => {
                let alpha = self.a.float_or("alpha", 0.01)?;
                let x = self.input(0)?;
                Ok(one(self.fin(FOp::Unary(UnaryFn::LeakyRelu { alpha }), vec![x])?))
            }
            "HardSigmoid" => {
                let alpha = self.a.float_or("alpha", 0.2)?;
                let beta = self.a.float_or("beta", 0.5)?;
                let x = self.input(0)?;
                Ok(one(self.fin(FOp::Unary(UnaryFn::HardSigmoid { alpha, beta }), vec![x])?))
            }
            "Clip" => self.clip(),
            "Gelu" => {
                let approx = self.a.string("approximate")?.unwrap_or_else(|| "none".into());
                let f = match approx.as_str() {
                    "none" => UnaryFn::Gelu,
                    "tanh" => UnaryFn::GeluTanh,
                    other => return Err(self.bad("approximate", format!("'{other}' is not 'none' or 'tanh'"))),
                };
                let x = self.input(0)?;
                Ok(one(self.fin(FOp::Unary(f), vec![x])?))
            }
            "Softsign" => {
                let x = self.input(0)?;
                let ax = self.aux("abs", FOp::Unary(UnaryFn::Abs), vec![x])?;
                let one_c = self.scalar("one", 1.0)?;
                let d = self.aux("denom", FOp::Add, vec![ax, one_c])?;
                Ok(one(self.fin(FOp::Div, vec![x, d])?))
            }
            "PRelu" => self.prelu(),
            "Swish" => {
                let alpha = self.a.float_or("alpha", 1.0)?;
                let x = self.input(0)?;
                if alpha == 1.0 {
                    return Ok(one(self.fin(FOp::Unary(UnaryFn::Silu), vec![x])?));
                }
                let k = self.scalar("alpha", alpha)?;
                let t = self.aux("scaled", FOp::Mul, vec![x, k])?;
                let s = self.aux("sigmoid", FOp::Unary(UnaryFn::Sigmoid), vec![t])?;
                Ok(one(self.fin(FOp::Mul, vec![x, s])?))
            }
            "RMSNormalization" => self.rms_norm(),
            "InstanceNormalization" | "GroupNormalization" => self.group_norm(),
            "Resize" | "Upsample" => self.resize(),
            "MatMul" => self.matmul(),
            "Gemm" => self.gemm(),
            "Conv" => self.conv(),
            "ConvTranspose" => self.conv_transpose(),
            "BatchNormalization" => self.batch_norm(),
            "LayerNormalization" => self.layer_norm(),
            "Softmax" => self.softmax(),
            "MaxPool" | "AveragePool" => self.pool(),
            "GlobalAveragePool" | "GlobalMaxPool" => {
                let x = self.input(0)?;
                let r = self.rank(x);
                if r < 3 {
                    return Err(self.shape_err("input of rank >= 3 (N, C, spatial...)", format!("{:?}", self.shape(x))));
                }
                let kind = if op == "GlobalMaxPool" { ReduceKind::Max } else { ReduceKind::Mean };
                Ok(one(self.fin(
                    FOp::Reduce {
                        kind,
                        axes: (2..r).collect(),
                        keep_dims: true,
                    },
                    vec![x],
                )?))
            }
            "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceSumSquare" | "ReduceL1"
            | "ReduceL2" => self.reduce(),
            "Flatten" => self.flatten(),
            "Reshape" => self.reshape_op(),
            "Squeeze" => self.squeeze(),
            "Unsqueeze" => self.unsqueeze(),
            "Transpose" => self.transpose(),
            "Concat" => self.concat(),
            "Slice" => self.slice(),
            "Split" => self.split(),
            "Pad" => self.pad(),
            "Gather" => self.gather(),
            "Where" => self.where_op(),
            "Expand" => self.expand(),
            "Tile" => self.tile(),
            "DepthToSpace" | "SpaceToDepth" => self.depth_space(),
            "Shape" => self.shape_op(),
            "Size" => {
                let x = self.input(0)?;
                let n = numel(self.b.shape(x)).unwrap_or(0) as i64;
                Ok(one(self.cst("", vec![], Konst::I(vec![n]))?))
            }
            "ConstantOfShape" => self.constant_of_shape(),
            "Range" => self.range(),
            "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "And" | "Or"
            | "Xor" | "Mod" => self.const_binary(),
            "Not" | "Floor" | "Ceil" | "Round" | "Sign" | "NonZero" => self.const_unary(),
            _ => Err(self.unsupported(format!(
                "no lowering for this op. Supported ops: {}. Re-export the model without it (e.g. move it out of the graph or decompose it into supported ops)",
                SUPPORTED_OPS.join(", ")
            ))),
        }
    }

    // ----- aliases, casts, constants --------------------------------------------------------

    fn dropout(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        if let Some(t) = self.opt(2) {
            match self.b.konst_of(t) {
                Some(k) if k.to_bool().iter().any(|&v| v) => {
                    return Err(self.unsupported(
                        "training_mode=true; export the model in inference mode (model.eval())",
                    ))
                }
                Some(_) => {}
                None => return Err(self.not_const(2, "training_mode must be a constant false")),
            }
        }
        let mut outs = one(x);
        if self.node.output.len() > 1 {
            let shape = self.shape(x);
            let n = numel(&shape).unwrap_or(0);
            if n > MAX_FOLDED_ELEMENTS {
                outs.push(None);
            } else {
                let name = self.out_name(1);
                outs.push(Some(self.b.add_const(
                    name,
                    shape,
                    Konst::B(vec![true; n]),
                )?));
            }
        }
        Ok(outs)
    }

    fn cast(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let to = if self.op() == "CastLike" {
            let t = self.input(1)?;
            self.b.tensors[t].class
        } else {
            let to = self
                .a
                .int("to")?
                .ok_or_else(|| self.bad("to", "required attribute is missing"))?;
            proto::dtype_class(to as i32).ok_or_else(|| {
                self.bad(
                    "to",
                    format!("cast to {} is not supported", proto::dtype_name(to as i32)),
                )
            })?
        };
        if let Some(k) = self.b.konst_of(x) {
            let k = k.cast(to);
            let shape = self.shape(x);
            return Ok(one(self.cst("", shape, k)?));
        }
        let from = self.b.tensors[x].class;
        if from == to {
            return Ok(one(x));
        }
        Err(self.unsupported(format!(
            "casting a runtime tensor from {from:?} to {to:?} changes its values; only same-class casts (e.g. float32 <-> float16) of runtime tensors are supported"
        )))
    }

    fn constant(&mut self) -> Result<Vec<Option<usize>>> {
        if let Some(t) = self.a.tensor("value")? {
            let (shape, k) = proto::tensor_value(t, &self.out_name(0))?;
            return Ok(one(self.cst("", shape, k)?));
        }
        if let Some(v) = self.a.float("value_float")? {
            return Ok(one(self.cst("", vec![], Konst::F(vec![v]))?));
        }
        if let Some(v) = self.a.floats("value_floats")? {
            return Ok(one(self.cst("", vec![v.len()], Konst::F(v))?));
        }
        if let Some(v) = self.a.int("value_int")? {
            return Ok(one(self.cst("", vec![], Konst::I(vec![v]))?));
        }
        if let Some(v) = self.a.ints("value_ints")? {
            return Ok(one(self.cst("", vec![v.len()], Konst::I(v))?));
        }
        if self.a.has("sparse_value") {
            return Err(
                self.unsupported("sparse constants are not supported; re-save with dense tensors")
            );
        }
        if self.a.has("value_string") || self.a.has("value_strings") {
            return Err(self.unsupported("string constants are not supported"));
        }
        Err(self.bad("value", "Constant node has no value attribute"))
    }

    // ----- elementwise ----------------------------------------------------------------------

    fn binary(&mut self, op: FOp) -> Result<Vec<Option<usize>>> {
        let a = self.input(0)?;
        let mut b = self.input(1)?;
        // Opset < 7 legacy broadcasting: b aligned at `axis` of a.
        if self.opset < 7 && self.a.int_or("broadcast", 0)? == 1 {
            if let Some(axis) = self.a.int("axis")? {
                let ra = self.rank(a);
                let axis = self.axis(axis, ra, "axis")?;
                let mut s = self.shape(b);
                if axis + s.len() > ra {
                    return Err(
                        self.shape_err(format!("b to fit a from axis {axis}"), format!("{s:?}"))
                    );
                }
                s.resize(ra - axis, 1);
                b = self.reshape("bcast", b, s)?;
            }
        }
        Ok(one(self.fin(op, vec![a, b])?))
    }

    fn variadic(&mut self) -> Result<Vec<Option<usize>>> {
        let n = self.node.input.len();
        if n == 0 {
            return Err(self
                .input(0)
                .err()
                .unwrap_or_else(|| self.unsupported("no inputs")));
        }
        let op = match self.op() {
            "Max" => FOp::Max,
            "Min" => FOp::Min,
            _ => FOp::Add,
        };
        let mean = self.op() == "Mean";
        let mut acc = self.input(0)?;
        for i in 1..n {
            let x = self.input(i)?;
            acc = if i == n - 1 && !mean {
                self.fin(op.clone(), vec![acc, x])?
            } else {
                self.aux(&format!("acc{i}"), op.clone(), vec![acc, x])?
            };
        }
        if mean && n > 1 {
            let c = self.scalar("inv_n", 1.0 / n as f32)?;
            acc = self.fin_as("mean", FOp::Mul, vec![acc, c])?;
        }
        Ok(one(acc))
    }

    fn pow(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let e = self.input(1)?;
        let (xs, es) = (self.shape(x), self.shape(e));
        let out =
            broadcast(&[&xs, &es]).map_err(|m| self.shape_err(m, format!("{xs:?} and {es:?}")))?;
        if let (Some(kx), Some(ke)) = (self.b.konst_of(x), self.b.konst_of(e)) {
            let (vx, ve) = (kx.to_f64(), ke.to_f64());
            let v = eval::binary(
                In {
                    shape: &xs,
                    data: &vx,
                },
                In {
                    shape: &es,
                    data: &ve,
                },
                &out,
                f64::powf,
            );
            let k = if kx.class() == Class::Int && ke.class() == Class::Int {
                Konst::I(v.iter().map(|&f| f as i64).collect())
            } else {
                Konst::F(v.iter().map(|&f| f as f32).collect())
            };
            return Ok(one(self.cst("", out, k)?));
        }
        let ev = self.konst(1, "Pow exponent must be a constant")?.to_f64();
        let p = match ev.first() {
            Some(&p) if ev.iter().all(|&q| q == p) => p,
            _ => return Err(self.unsupported("Pow with a non-uniform exponent is not supported")),
        };
        if out != xs {
            return Err(self.shape_err(
                format!("exponent broadcasting into {xs:?}"),
                format!("{es:?}"),
            ));
        }
        let unary = |f| FOp::Unary(f);
        let t = if p == 1.0 {
            x
        } else if p == 2.0 {
            self.fin(FOp::Mul, vec![x, x])?
        } else if p == 3.0 {
            let out = format!("{}/square", self.out_name(0));
            let sq = self.emit("", out, FOp::Mul, vec![x, x])?;
            self.fin_as("cube", FOp::Mul, vec![sq, x])?
        } else if p == 0.5 {
            self.fin(unary(UnaryFn::Sqrt), vec![x])?
        } else if p == -1.0 {
            self.fin(unary(UnaryFn::Reciprocal), vec![x])?
        } else if p == -0.5 {
            let out = format!("{}/sqrt", self.out_name(0));
            let s = self.emit("", out, unary(UnaryFn::Sqrt), vec![x])?;
            self.fin_as("recip", unary(UnaryFn::Reciprocal), vec![s])?
        } else if p == 0.0 {
            let n = numel(&xs).unwrap_or(usize::MAX);
            self.check_alloc(n)?;
            self.cst("", xs, Konst::F(vec![1.0; n]))?
        } else {
            return Err(self.unsupported(format!(
                "Pow with exponent {p} is not supported (supported exponents: 0, 0.5, 1, 2, 3, -0.5, -1)"
            )));
        };
        Ok(one(t))
    }

    fn clip(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let (mut lo, mut hi) = (f32::NEG_INFINITY, f32::INFINITY);
        if self.opset < 11 {
            lo = self.a.float_or("min", lo)?;
            hi = self.a.float_or("max", hi)?;
            if lo <= f32::MIN {
                lo = f32::NEG_INFINITY;
            }
            if hi >= f32::MAX {
                hi = f32::INFINITY;
            }
        } else {
            if self.opt(1).is_some() {
                lo = self.const_scalar(1, "Clip min")? as f32;
            }
            if self.opt(2).is_some() {
                hi = self.const_scalar(2, "Clip max")? as f32;
            }
        }
        if lo.is_nan() || hi.is_nan() {
            return Err(self.bad("min/max", "NaN bound"));
        }
        Ok(one(self.fin(FOp::Unary(UnaryFn::Clip { lo, hi }), vec![x])?))
    }

    fn prelu(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let s = self.input(1)?;
        if let Some(k) = self.b.konst_of(s) {
            let v = k.to_f32();
            if let Some(&alpha) = v.first() {
                if v.iter().all(|&q| q == alpha) {
                    return Ok(one(
                        self.fin(FOp::Unary(UnaryFn::LeakyRelu { alpha }), vec![x])?
                    ));
                }
            }
        }
        let (xs, ss) = (self.shape(x), self.shape(s));
        if broadcast(&[&xs, &ss]).ok().as_ref() != Some(&xs) {
            return Err(self.shape_err(format!("slope broadcastable to {xs:?}"), format!("{ss:?}")));
        }
        let zero = self.scalar("zero", 0.0)?;
        let pos = self.aux("pos", FOp::Max, vec![x, zero])?;
        let neg = self.aux("neg", FOp::Min, vec![x, zero])?;
        let sn = self.aux("scaled_neg", FOp::Mul, vec![neg, s])?;
        Ok(one(self.fin(FOp::Add, vec![pos, sn])?))
    }

    // ----- linear algebra -------------------------------------------------------------------

    fn matmul(&mut self) -> Result<Vec<Option<usize>>> {
        let mut a = self.input(0)?;
        let mut b = self.input(1)?;
        let (ra, rb) = (self.rank(a), self.rank(b));
        if ra == 0 || rb == 0 {
            return Err(self.shape_err(
                "operands of rank >= 1",
                format!("{:?} and {:?}", self.shape(a), self.shape(b)),
            ));
        }
        let lift_a = ra == 1;
        let lift_b = rb == 1;
        if lift_a {
            let k = self.shape(a)[0];
            a = self.reshape("lift_a", a, vec![1, k])?;
        }
        if lift_b {
            let k = self.shape(b)[0];
            b = self.reshape("lift_b", b, vec![k, 1])?;
        }
        if !lift_a && !lift_b {
            return Ok(one(self.fin(FOp::MatMul, vec![a, b])?));
        }
        let out = format!("{}/matmul", self.out_name(0));
        let y = self.emit("", out, FOp::MatMul, vec![a, b])?;
        let mut s = self.shape(y);
        if lift_b {
            s.pop();
        }
        if lift_a {
            let r = s.len();
            if lift_b {
                s.pop();
            } else {
                s.remove(r - 2);
            }
        }
        Ok(one(self.fin_as(
            "unlift",
            FOp::Reshape { shape: s },
            vec![y],
        )?))
    }

    fn gemm(&mut self) -> Result<Vec<Option<usize>>> {
        let mut a = self.input(0)?;
        let mut b = self.input(1)?;
        let c = self.opt(2);
        if self.rank(a) != 2 || self.rank(b) != 2 {
            return Err(self.shape_err(
                "A and B of rank 2",
                format!("{:?} and {:?}", self.shape(a), self.shape(b)),
            ));
        }
        let alpha = self.a.float_or("alpha", 1.0)?;
        let beta = self.a.float_or("beta", 1.0)?;
        if self.a.int_or("transA", 0)? != 0 {
            a = self.aux("transpose_a", FOp::Transpose { perm: vec![1, 0] }, vec![a])?;
        }
        if self.a.int_or("transB", 0)? != 0 {
            b = self.aux("transpose_b", FOp::Transpose { perm: vec![1, 0] }, vec![b])?;
        }
        if alpha != 1.0 {
            let k = self.scalar("alpha", alpha)?;
            b = self.aux("alpha_b", FOp::Mul, vec![b, k])?;
        }
        let Some(mut c) = c.filter(|_| beta != 0.0) else {
            return Ok(one(self.fin(FOp::MatMul, vec![a, b])?));
        };
        let out = format!("{}/matmul", self.out_name(0));
        let y = self.emit("", out, FOp::MatMul, vec![a, b])?;
        if beta != 1.0 {
            let k = self.scalar("beta", beta)?;
            c = self.aux("beta_c", FOp::Mul, vec![c, k])?;
        }
        let ys = self.shape(y);
        let cs = self.shape(c);
        if broadcast(&[&ys, &cs]).ok().as_ref() != Some(&ys) {
            return Err(self.shape_err(format!("C broadcastable to {ys:?}"), format!("{cs:?}")));
        }
        Ok(one(self.fin_as("bias", FOp::Add, vec![y, c])?))
    }

    // ----- convolution ----------------------------------------------------------------------

    fn spatial_ints(&self, key: &str, n: usize, default: usize, min: usize) -> Result<Vec<usize>> {
        match self.ints_attr_usize(key)? {
            None => Ok(vec![default; n]),
            Some(v) if v.len() == n && v.iter().all(|&x| x >= min) => Ok(v),
            Some(v) => Err(self.bad(key, format!("expected {n} values >= {min}, got {v:?}"))),
        }
    }

    fn auto_pad(&self) -> Result<String> {
        let s = self
            .a
            .string("auto_pad")?
            .unwrap_or_else(|| "NOTSET".into());
        match s.as_str() {
            "NOTSET" | "SAME_UPPER" | "SAME_LOWER" | "VALID" | "" => Ok(s),
            other => Err(self.bad("auto_pad", format!("unknown value '{other}'"))),
        }
    }

    /// Begin/end padding per spatial dim for Conv and pooling.
    fn resolve_pads(
        &self,
        input: &[usize],
        kernel: &[usize],
        strides: &[usize],
        dil: &[usize],
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        let n = input.len();
        let ap = self.auto_pad()?;
        match ap.as_str() {
            "VALID" => Ok((vec![0; n], vec![0; n])),
            "SAME_UPPER" | "SAME_LOWER" => {
                let (mut b, mut e) = (vec![0; n], vec![0; n]);
                for i in 0..n {
                    let out = input[i].div_ceil(strides[i]);
                    let span = (kernel[i] - 1) * dil[i] + 1;
                    let need = (out.saturating_sub(1) * strides[i] + span).saturating_sub(input[i]);
                    if ap == "SAME_UPPER" {
                        b[i] = need / 2;
                        e[i] = need - need / 2;
                    } else {
                        b[i] = need - need / 2;
                        e[i] = need / 2;
                    }
                }
                Ok((b, e))
            }
            _ => {
                let pads = self.spatial_ints("pads", 2 * n, 0, 0)?;
                Ok((pads[..n].to_vec(), pads[n..].to_vec()))
            }
        }
    }

    fn window(
        kernel: &[usize],
        strides: &[usize],
        dil: &[usize],
        pb: &[usize],
        pe: &[usize],
    ) -> Window {
        // 1-D geometry is lifted to 2-D with a unit leading spatial dim.
        if kernel.len() == 1 {
            Window {
                kernel: [1, kernel[0]],
                strides: [1, strides[0]],
                pads: [0, pb[0], 0, pe[0]],
                dilations: [1, dil[0]],
            }
        } else {
            Window {
                kernel: [kernel[0], kernel[1]],
                strides: [strides[0], strides[1]],
                pads: [pb[0], pb[1], pe[0], pe[1]],
                dilations: [dil[0], dil[1]],
            }
        }
    }

    fn spatial_rank(&self, x: usize, what: &str) -> Result<usize> {
        let r = self.rank(x);
        match r {
            3 | 4 => Ok(r - 2),
            _ => Err(self.unsupported(format!(
                "only 1-D and 2-D {what} are supported (input of rank {r}, shape {:?})",
                self.shape(x)
            ))),
        }
    }

    fn conv(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let w = self.input(1)?;
        let bias = self.opt(2);
        let nsp = self.spatial_rank(x, "convolutions")?;
        let (xs, ws) = (self.shape(x), self.shape(w));
        if ws.len() != xs.len() {
            return Err(self.shape_err(format!("weight of rank {}", xs.len()), format!("{ws:?}")));
        }
        let kernel = ws[2..].to_vec();
        if let Some(k) = self.ints_attr_usize("kernel_shape")? {
            if k != kernel {
                return Err(self.bad(
                    "kernel_shape",
                    format!("{k:?} does not match weight shape {ws:?}"),
                ));
            }
        }
        let groups = self.int_attr_usize("group", 1)?;
        if groups == 0 {
            return Err(self.bad("group", "must be >= 1"));
        }
        let strides = self.spatial_ints("strides", nsp, 1, 1)?;
        let dil = self.spatial_ints("dilations", nsp, 1, 1)?;
        if kernel.contains(&0) {
            return Err(self.shape_err("non-empty kernel", format!("{ws:?}")));
        }
        let (pb, pe) = self.resolve_pads(&xs[2..], &kernel, &strides, &dil)?;
        let window = Self::window(&kernel, &strides, &dil, &pb, &pe);
        let op = FOp::Conv { window, groups };
        let mut inputs = vec![x, w];
        if nsp == 2 {
            inputs.extend(bias);
            return Ok(one(self.fin(op, inputs)?));
        }
        let xl = self.reshape("lift", x, vec![xs[0], xs[1], 1, xs[2]])?;
        let wl = self.reshape("lift_w", w, vec![ws[0], ws[1], 1, ws[2]])?;
        inputs = vec![xl, wl];
        inputs.extend(bias);
        let out = format!("{}/conv2d", self.out_name(0));
        let y = self.emit("", out, op, inputs)?;
        let ys = self.shape(y);
        Ok(one(self.fin_as(
            "unlift",
            FOp::Reshape {
                shape: vec![ys[0], ys[1], ys[3]],
            },
            vec![y],
        )?))
    }

    fn conv_transpose(&mut self) -> Result<Vec<Option<usize>>> {
        let x0 = self.input(0)?;
        let w0 = self.input(1)?;
        let bias = self.opt(2);
        let nsp = self.spatial_rank(x0, "transposed convolutions")?;
        let (xs0, ws0) = (self.shape(x0), self.shape(w0));
        if ws0.len() != xs0.len() {
            return Err(self.shape_err(format!("weight of rank {}", xs0.len()), format!("{ws0:?}")));
        }
        let kernel = ws0[2..].to_vec();
        if let Some(k) = self.ints_attr_usize("kernel_shape")? {
            if k != kernel {
                return Err(self.bad(
                    "kernel_shape",
                    format!("{k:?} does not match weight shape {ws0:?}"),
                ));
            }
        }
        if kernel.contains(&0) {
            return Err(self.shape_err("non-empty kernel", format!("{ws0:?}")));
        }
        let g = self.int_attr_usize("group", 1)?;
        if g == 0 || !xs0[1].is_multiple_of(g) || ws0[0] != xs0[1] {
            return Err(self.shape_err(
                format!(
                    "weight [C, O/group, k...] with C = {} divisible by group {g}",
                    xs0[1]
                ),
                format!("{ws0:?}"),
            ));
        }
        let strides = self.spatial_ints("strides", nsp, 1, 1)?;
        let dil = self.spatial_ints("dilations", nsp, 1, 1)?;
        let outpad = self.spatial_ints("output_padding", nsp, 0, 0)?;
        let ap = self.auto_pad()?;
        let out_shape = match self.ints_attr_usize("output_shape")? {
            None => None,
            Some(v) if v.len() == nsp => Some(v),
            Some(v) if v.len() == nsp + 2 => Some(v[2..].to_vec()),
            Some(v) => {
                return Err(self.bad("output_shape", format!("expected {nsp} values, got {v:?}")))
            }
        };
        // Signed begin/end padding of the output; negative padding extends it (an
        // `output_shape` larger than the natural size grows the end). Split as in the ONNX
        // specification and reference implementation (onnxruntime differs for odd SAME_UPPER
        // totals, putting the extra element at the beginning).
        let mut pb = vec![0i64; nsp];
        let mut pe = vec![0i64; nsp];
        let explicit = self.spatial_ints("pads", 2 * nsp, 0, 0)?;
        for i in 0..nsp {
            let full = ((xs0[2 + i].max(1) - 1) as i64) * strides[i] as i64
                + outpad[i] as i64
                + (kernel[i] as i64 - 1) * dil[i] as i64
                + 1;
            let target = match (&out_shape, ap.as_str()) {
                (Some(o), _) => Some(o[i] as i64),
                (None, "SAME_UPPER" | "SAME_LOWER") => Some(xs0[2 + i] as i64 * strides[i] as i64),
                _ => None,
            };
            match target {
                Some(t) => {
                    let total = full - t;
                    let half = total.div_euclid(2);
                    if ap == "SAME_UPPER" {
                        pb[i] = half;
                        pe[i] = total - half;
                    } else {
                        pb[i] = total - half;
                        pe[i] = half;
                    }
                }
                None if ap == "VALID" => {}
                None => {
                    pb[i] = explicit[i] as i64;
                    pe[i] = explicit[nsp + i] as i64;
                }
            }
            if pb[i] + pe[i] >= full || full - pb[i] - pe[i] > 1 << 31 {
                return Err(self.shape_err(
                    "a positive output size",
                    format!("pads {pb:?}/{pe:?} for input {xs0:?}"),
                ));
            }
        }
        // Lift 1-D to 2-D.
        let (x, w, k2, s2, d2, op2, pb2, pe2) = if nsp == 1 {
            let x = self.reshape("lift", x0, vec![xs0[0], xs0[1], 1, xs0[2]])?;
            let w = self.reshape("lift_w", w0, vec![ws0[0], ws0[1], 1, ws0[2]])?;
            (
                x,
                w,
                [1, kernel[0]],
                [1, strides[0]],
                [1, dil[0]],
                [0, outpad[0]],
                [0, pb[0]],
                [0, pe[0]],
            )
        } else {
            (
                x0,
                w0,
                [kernel[0], kernel[1]],
                [strides[0], strides[1]],
                [dil[0], dil[1]],
                [outpad[0], outpad[1]],
                [pb[0], pb[1]],
                [pe[0], pe[1]],
            )
        };
        let xs = self.shape(x);
        // Zero insertion and border padding (possibly negative => crop afterwards).
        let mut begin = vec![0usize; 4];
        let mut end = vec![0usize; 4];
        let mut interior = vec![0usize; 4];
        let mut crop_b = [0usize; 2];
        let mut crop_e = [0usize; 2];
        for i in 0..2 {
            let span = (k2[i] - 1) * d2[i];
            let b = span as i64 - pb2[i];
            let e = span as i64 - pe2[i] + op2[i] as i64;
            begin[2 + i] = b.max(0) as usize;
            end[2 + i] = e.max(0) as usize;
            crop_b[i] = (-b).max(0) as usize;
            crop_e[i] = (-e).max(0) as usize;
            interior[2 + i] = s2[i] - 1;
        }
        let mut xp = x;
        if begin.iter().chain(&end).chain(&interior).any(|&v| v != 0) {
            xp = self.aux(
                "dilate",
                FOp::Pad {
                    begin,
                    end,
                    interior,
                    value: 0.0,
                },
                vec![xp],
            )?;
        }
        if crop_b.iter().chain(&crop_e).any(|&v| v != 0) {
            let ps = self.shape(xp);
            let mut starts = vec![0usize; 4];
            let mut lens = ps.clone();
            for i in 0..2 {
                starts[2 + i] = crop_b[i];
                lens[2 + i] = ps[2 + i]
                    .checked_sub(crop_b[i] + crop_e[i])
                    .ok_or_else(|| self.shape_err("a positive output size", format!("{xs:?}")))?;
            }
            xp = self.aux(
                "crop",
                FOp::Slice {
                    starts,
                    lens,
                    steps: vec![1; 4],
                },
                vec![xp],
            )?;
        }
        // Weight [C, O/g, KH, KW] -> [O, C/g, KH, KW], spatially flipped.
        let ws = self.shape(w);
        let (c, og, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
        let cg = c / g;
        let w5 = self.reshape("w_groups", w, vec![g, cg, og, kh, kw])?;
        let wt = self.aux(
            "w_transpose",
            FOp::Transpose {
                perm: vec![0, 2, 1, 3, 4],
            },
            vec![w5],
        )?;
        let w4 = self.reshape("w_merge", wt, vec![g * og, cg, kh, kw])?;
        let wf = self.aux(
            "w_flip",
            FOp::Slice {
                starts: vec![0, 0, kh - 1, kw - 1],
                lens: vec![g * og, cg, kh, kw],
                steps: vec![1, 1, -1, -1],
            },
            vec![w4],
        )?;
        let window = Window {
            kernel: [kh, kw],
            strides: [1, 1],
            pads: [0; 4],
            dilations: d2,
        };
        let mut inputs = vec![xp, wf];
        inputs.extend(bias);
        let op = FOp::Conv { window, groups: g };
        if nsp == 2 {
            return Ok(one(self.fin(op, inputs)?));
        }
        let out = format!("{}/conv2d", self.out_name(0));
        let y = self.emit("", out, op, inputs)?;
        let ys = self.shape(y);
        Ok(one(self.fin_as(
            "unlift",
            FOp::Reshape {
                shape: vec![ys[0], ys[1], ys[3]],
            },
            vec![y],
        )?))
    }

    // ----- normalisation --------------------------------------------------------------------

    fn batch_norm(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        if self.a.int_or("training_mode", 0)? != 0 {
            return Err(self.unsupported("training_mode=1; export the model in inference mode"));
        }
        let eps = f64::from(self.a.float_or("epsilon", 1e-5)?);
        let hint = "BatchNormalization parameters must be constants (initializers)";
        let scale = self.konst(1, hint)?.to_f64();
        let bias = self.konst(2, hint)?.to_f64();
        let mean = self.konst(3, hint)?.to_f64();
        let var = self.konst(4, hint)?.to_f64();
        let xs = self.shape(x);
        if xs.len() < 2 {
            return Err(self.shape_err("input of rank >= 2", format!("{xs:?}")));
        }
        let c = xs[1];
        let per_elem: usize = xs[1..].iter().product();
        let pshape: Vec<usize> = if scale.len() == c {
            let mut s = vec![1usize; xs.len() - 1];
            s[0] = c;
            s
        } else if scale.len() == per_elem && self.opset < 9 {
            xs[1..].to_vec()
        } else {
            return Err(self.shape_err(
                format!("{c} per-channel parameters"),
                format!("{}", scale.len()),
            ));
        };
        let n = scale.len();
        if bias.len() != n || mean.len() != n || var.len() != n {
            return Err(self.shape_err(
                format!("{n} values for scale, B, mean and var"),
                format!(
                    "{}, {}, {}, {}",
                    scale.len(),
                    bias.len(),
                    mean.len(),
                    var.len()
                ),
            ));
        }
        let mut s = Vec::with_capacity(n);
        let mut t = Vec::with_capacity(n);
        for i in 0..n {
            let si = scale[i] / (var[i] + eps).sqrt();
            s.push(si as f32);
            t.push((bias[i] - mean[i] * si) as f32);
        }
        let sc = self.cst("bn_scale", pshape.clone(), Konst::F(s))?;
        let sh = self.cst("bn_shift", pshape, Konst::F(t))?;
        let out = format!("{}/scaled", self.out_name(0));
        let y = self.emit("", out, FOp::Mul, vec![x, sc])?;
        let mut outs = one(self.fin_as("shift", FOp::Add, vec![y, sh])?);
        outs.extend(std::iter::repeat_n(
            None,
            self.node.output.len().saturating_sub(1),
        ));
        Ok(outs)
    }

    /// Materialises a constant broadcastable to `to` with exactly that shape.
    fn expand_param(&mut self, t: usize, to: &[usize], what: &str) -> Result<usize> {
        let s = self.shape(t);
        if s == to {
            return Ok(t);
        }
        if broadcast(&[&s, to]).ok().as_deref() != Some(to) {
            return Err(self.shape_err(format!("{what} broadcastable to {to:?}"), format!("{s:?}")));
        }
        let k = self.b.konst_of(t).cloned().ok_or_else(|| {
            self.unsupported(format!(
                "a runtime {what} must have shape {to:?}, got {s:?}"
            ))
        })?;
        self.check_alloc(numel(to).unwrap_or(usize::MAX))?;
        let v = eval::expand(
            In {
                shape: &s,
                data: &k.to_f32(),
            },
            to,
        );
        self.cst(what, to.to_vec(), Konst::F(v))
    }

    fn layer_norm(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let axis = self.axis(self.a.int_or("axis", -1)?, xs.len(), "axis")?;
        let eps = self.a.float_or("epsilon", 1e-5)?;
        let norm = xs[axis..].to_vec();
        let g = self.input(1)?;
        let g = self.expand_param(g, &norm, "gamma")?;
        let beta = match self.opt(2) {
            Some(bt) => self.expand_param(bt, &norm, "beta")?,
            None => {
                let n = numel(&norm).unwrap_or(usize::MAX);
                self.check_alloc(n)?;
                self.cst("beta", norm.clone(), Konst::F(vec![0.0; n]))?
            }
        };
        let mut outs = one(self.fin(FOp::LayerNorm { axis, eps }, vec![x, g, beta])?);
        let wants = |k: usize| self.node.output.get(k).is_some_and(|s| !s.is_empty());
        if wants(1) || wants(2) {
            // Mean and 1/sqrt(var + eps) over the normalised axes, kept as [.., 1, 1].
            let reduce = FOp::Reduce {
                kind: ReduceKind::Mean,
                axes: (axis..xs.len()).collect(),
                keep_dims: true,
            };
            let name1 = self.out_name(1);
            let mean = self.emit("mean", name1, reduce.clone(), vec![x])?;
            outs.push(Some(mean));
            if wants(2) {
                let d = self.aux("centered", FOp::Sub, vec![x, mean])?;
                let sq = self.aux("squared", FOp::Mul, vec![d, d])?;
                let var = self.aux("var", reduce, vec![sq])?;
                let e = self.scalar("eps", eps)?;
                let ve = self.aux("var_eps", FOp::Add, vec![var, e])?;
                let sd = self.aux("std", FOp::Unary(UnaryFn::Sqrt), vec![ve])?;
                let name2 = self.out_name(2);
                outs.push(Some(self.emit(
                    "inv_std",
                    name2,
                    FOp::Unary(UnaryFn::Reciprocal),
                    vec![sd],
                )?));
            }
        }
        Ok(outs)
    }

    fn rms_norm(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let axis = self.axis(self.a.int_or("axis", -1)?, xs.len(), "axis")?;
        let eps = self.a.float_or("epsilon", 1e-5)?;
        let scale = self.input(1)?;
        let sq = self.aux("square", FOp::Mul, vec![x, x])?;
        let ms = self.aux(
            "mean_square",
            FOp::Reduce {
                kind: ReduceKind::Mean,
                axes: (axis..xs.len()).collect(),
                keep_dims: true,
            },
            vec![sq],
        )?;
        let e = self.scalar("eps", eps)?;
        let ve = self.aux("plus_eps", FOp::Add, vec![ms, e])?;
        let rms = self.aux("rms", FOp::Unary(UnaryFn::Sqrt), vec![ve])?;
        let n = self.aux("normalized", FOp::Div, vec![x, rms])?;
        let ss = self.shape(scale);
        if broadcast(&[&xs, &ss]).ok().as_ref() != Some(&xs) {
            return Err(self.shape_err(format!("scale broadcastable to {xs:?}"), format!("{ss:?}")));
        }
        Ok(one(self.fin_as("scale", FOp::Mul, vec![n, scale])?))
    }

    /// InstanceNormalization (groups = channels) and GroupNormalization, as a LayerNorm over
    /// `[N, groups, rest]` followed by a per-channel affine map.
    fn group_norm(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        if xs.len() < 3 {
            return Err(self.shape_err("input [N, C, spatial...]", format!("{xs:?}")));
        }
        let (n, c) = (xs[0], xs[1]);
        let instance = self.op() == "InstanceNormalization";
        let groups = if instance {
            c
        } else {
            let g = self.int_attr_usize("num_groups", 0)?;
            if g == 0 || !c.is_multiple_of(g) {
                return Err(self.bad("num_groups", format!("{g} does not divide {c} channels")));
            }
            g
        };
        let eps = self.a.float_or("epsilon", 1e-5)?;
        let hint = "normalization scale and bias must be constants (initializers)";
        let scale = self.konst(1, hint)?.to_f32();
        let bias = self.konst(2, hint)?.to_f32();
        let per_group = !instance && self.opset < 21 && scale.len() == groups;
        let expand = |v: &[f32]| -> Option<Vec<f32>> {
            if v.len() == c {
                Some(v.to_vec())
            } else if per_group && v.len() == groups {
                Some((0..c).map(|i| v[i / (c / groups)]).collect())
            } else {
                None
            }
        };
        let (Some(scale), Some(bias)) = (expand(&scale), expand(&bias)) else {
            return Err(self.shape_err(
                format!("{c} per-channel scale and bias values"),
                format!("{} and {}", scale.len(), bias.len()),
            ));
        };
        let rest: usize = xs[1..].iter().product::<usize>() / groups;
        self.check_alloc(rest)?;
        let xr = self.reshape("groups", x, vec![n, groups, rest])?;
        let ones = self.cst("ones", vec![rest], Konst::F(vec![1.0; rest]))?;
        let zeros = self.cst("zeros", vec![rest], Konst::F(vec![0.0; rest]))?;
        let out = format!("{}/normalized", self.out_name(0));
        let ln = self.emit(
            "",
            out,
            FOp::LayerNorm { axis: 2, eps },
            vec![xr, ones, zeros],
        )?;
        let back = self.reshape("restore", ln, xs.clone())?;
        let mut ps = vec![1usize; xs.len() - 1];
        ps[0] = c;
        let sc = self.cst("scale", ps.clone(), Konst::F(scale))?;
        let bi = self.cst("bias", ps, Konst::F(bias))?;
        let y = self.aux("scaled", FOp::Mul, vec![back, sc])?;
        Ok(one(self.fin_as("shift", FOp::Add, vec![y, bi])?))
    }

    /// Nearest-neighbour Resize / Upsample as one constant-index Gather per resized axis.
    fn resize(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let r = xs.len();
        let upsample = self.op() == "Upsample";
        let mode = self.a.string("mode")?.unwrap_or_else(|| "nearest".into());
        if mode != "nearest" {
            return Err(self.unsupported(format!(
                "only mode=nearest is supported (got '{mode}'); linear and cubic resizing are not lowered"
            )));
        }
        let (coord, nearest) = if upsample || self.opset < 11 {
            ("asymmetric".to_string(), "floor".to_string())
        } else {
            (
                self.a
                    .string("coordinate_transformation_mode")?
                    .unwrap_or_else(|| "half_pixel".into()),
                self.a
                    .string("nearest_mode")?
                    .unwrap_or_else(|| "round_prefer_floor".into()),
            )
        };
        let axes = match self.a.ints("axes")? {
            Some(a) => self.axes(&a, r, "axes")?,
            None => (0..r).collect(),
        };
        let policy = self
            .a
            .string("keep_aspect_ratio_policy")?
            .unwrap_or_else(|| "stretch".into());
        // Per-axis scale and output length.
        let scales_in = if upsample {
            if self.opset < 9 {
                None
            } else {
                Some(1)
            }
        } else if self.opset < 11 {
            Some(1)
        } else {
            Some(2)
        };
        let mut scales: Option<Vec<f64>> = if upsample && self.opset < 9 {
            Some(
                self.a
                    .floats("scales")?
                    .ok_or_else(|| self.bad("scales", "required attribute is missing"))?
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect(),
            )
        } else {
            match scales_in.and_then(|i| self.opt(i).map(|_| i)) {
                Some(i) => {
                    let v = self
                        .konst(i, "Resize scales must be known at import time")?
                        .to_f64();
                    (!v.is_empty()).then_some(v)
                }
                None => None,
            }
        };
        let sizes = if !upsample && self.opset >= 11 && self.opt(3).is_some() {
            Some(self.const_ints(3, "sizes")?)
        } else {
            None
        };
        let mut out = xs.clone();
        let mut scale_of = vec![1.0f64; r];
        match (&mut scales, &sizes) {
            (Some(sc), None) => {
                if sc.len() != axes.len() {
                    return Err(
                        self.shape_err(format!("{} scales", axes.len()), format!("{}", sc.len()))
                    );
                }
                for (k, &a) in axes.iter().enumerate() {
                    let s = sc[k];
                    if !(s.is_finite() && s > 0.0) {
                        return Err(self.shape_err("positive finite scales", format!("{s}")));
                    }
                    scale_of[a] = s;
                    out[a] = (xs[a] as f64 * s).floor() as usize;
                }
            }
            (None, Some(sz)) => {
                if sz.len() != axes.len() {
                    return Err(
                        self.shape_err(format!("{} sizes", axes.len()), format!("{}", sz.len()))
                    );
                }
                let req: Vec<f64> = axes
                    .iter()
                    .zip(sz)
                    .map(|(&a, &v)| v as f64 / xs[a].max(1) as f64)
                    .collect();
                let common = match policy.as_str() {
                    "stretch" => None,
                    "not_larger" => req.iter().copied().reduce(f64::min),
                    "not_smaller" => req.iter().copied().reduce(f64::max),
                    other => {
                        return Err(self.bad(
                            "keep_aspect_ratio_policy",
                            format!("unknown value '{other}'"),
                        ))
                    }
                };
                for (k, &a) in axes.iter().enumerate() {
                    let v = sz[k];
                    if v < 0 {
                        return Err(self.shape_err("non-negative sizes", format!("{v}")));
                    }
                    match common {
                        None => {
                            out[a] = v as usize;
                            scale_of[a] = v as f64 / xs[a].max(1) as f64;
                        }
                        Some(s) => {
                            scale_of[a] = s;
                            out[a] = (xs[a] as f64 * s + 0.5).floor() as usize;
                        }
                    }
                }
            }
            _ => {
                return Err(self.bad(
                    "scales/sizes",
                    "exactly one of scales and sizes must be given",
                ))
            }
        }
        crate::load::checked_numel(&out, &self.out_name(0))?;
        let changed: Vec<usize> = (0..r)
            .filter(|&a| out[a] != xs[a] || scale_of[a] != 1.0)
            .collect();
        if changed.is_empty() {
            return Ok(one(x));
        }
        let mut t = x;
        for (j, &a) in changed.iter().enumerate() {
            let (len_in, len_out, s) = (xs[a], out[a], scale_of[a]);
            if len_in == 0 {
                return Err(self.shape_err("non-empty resized axes", format!("{xs:?}")));
            }
            self.check_alloc(len_out)?;
            let mut idx = Vec::with_capacity(len_out);
            for o in 0..len_out {
                let of = o as f64;
                let src = match coord.as_str() {
                    "half_pixel" => (of + 0.5) / s - 0.5,
                    "pytorch_half_pixel" => {
                        if len_out > 1 {
                            (of + 0.5) / s - 0.5
                        } else {
                            0.0
                        }
                    }
                    "asymmetric" => of / s,
                    "tf_half_pixel_for_nn" => (of + 0.5) / s,
                    "align_corners" => {
                        if len_out > 1 {
                            of * (len_in as f64 - 1.0) / (len_out as f64 - 1.0)
                        } else {
                            0.0
                        }
                    }
                    "half_pixel_symmetric" => {
                        let adj = len_out as f64 / (s * len_in as f64);
                        let center = len_in as f64 / 2.0;
                        let offset = center * (1.0 - adj);
                        offset + (of + 0.5) / s - 0.5
                    }
                    other => {
                        return Err(self.bad(
                            "coordinate_transformation_mode",
                            format!("'{other}' is not supported for nearest resizing"),
                        ))
                    }
                };
                let i = match nearest.as_str() {
                    "round_prefer_floor" => {
                        if src.fract().abs() == 0.5 {
                            src.floor()
                        } else {
                            src.round()
                        }
                    }
                    "round_prefer_ceil" => {
                        if src.fract().abs() == 0.5 {
                            src.ceil()
                        } else {
                            src.round()
                        }
                    }
                    "floor" => src.floor(),
                    "ceil" => src.ceil(),
                    other => {
                        return Err(self.bad("nearest_mode", format!("unknown value '{other}'")))
                    }
                };
                idx.push((i.max(0.0) as usize).min(len_in - 1));
            }
            let op = FOp::Gather {
                axis: a,
                indices_shape: vec![len_out],
                indices: idx,
            };
            t = if j + 1 == changed.len() {
                self.fin(op, vec![t])?
            } else {
                self.aux(&format!("resize_axis{a}"), op, vec![t])?
            };
        }
        Ok(one(t))
    }

    fn softmax(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let r = xs.len();
        if r == 0 {
            return Err(self.shape_err("input of rank >= 1", "a scalar"));
        }
        let default = if self.opset < 13 { 1 } else { -1 };
        let axis = self.axis(self.a.int_or("axis", default)?, r, "axis")?;
        if self.opset >= 13 || axis == r - 1 {
            return Ok(one(self.fin(FOp::Softmax { axis }, vec![x])?));
        }
        // Opset < 13: softmax over the flattened trailing block [axis..].
        let outer: usize = xs[..axis].iter().product();
        let inner: usize = xs[axis..].iter().product();
        let x2 = self.reshape("coerce", x, vec![outer, inner])?;
        let out = format!("{}/softmax2d", self.out_name(0));
        let y = self.emit("", out, FOp::Softmax { axis: 1 }, vec![x2])?;
        Ok(one(self.fin_as(
            "restore",
            FOp::Reshape { shape: xs },
            vec![y],
        )?))
    }

    // ----- pooling and reductions -----------------------------------------------------------

    fn pool(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let is_max = self.op() == "MaxPool";
        let nsp = self.spatial_rank(x, "pools")?;
        let xs = self.shape(x);
        let kernel = self
            .ints_attr_usize("kernel_shape")?
            .ok_or_else(|| self.bad("kernel_shape", "required attribute is missing"))?;
        if kernel.len() != nsp || kernel.contains(&0) {
            return Err(self.bad(
                "kernel_shape",
                format!("expected {nsp} positive values, got {kernel:?}"),
            ));
        }
        let strides = self.spatial_ints("strides", nsp, 1, 1)?;
        let dil = self.spatial_ints("dilations", nsp, 1, 1)?;
        let ceil = self.a.int_or("ceil_mode", 0)? != 0;
        let (pb, pe) = self.resolve_pads(&xs[2..], &kernel, &strides, &dil)?;
        let mut extra = vec![0usize; nsp];
        for i in 0..nsp {
            let len = xs[2 + i];
            let padded = len + pb[i] + pe[i];
            let span = (kernel[i] - 1) * dil[i] + 1;
            if padded < span {
                return Err(self.shape_err(
                    format!("input at least as large as the window {span}"),
                    format!("{xs:?}"),
                ));
            }
            if ceil {
                let mut out = (padded - span).div_ceil(strides[i]) + 1;
                if (out - 1) * strides[i] >= len + pb[i] {
                    out -= 1;
                }
                extra[i] = ((out - 1) * strides[i] + span).saturating_sub(padded);
            }
        }
        let pe_ceil: Vec<usize> = pe.iter().zip(&extra).map(|(a, b)| a + b).collect();
        let count_include_pad = self.a.int_or("count_include_pad", 0)? != 0;
        let mut src = x;
        if nsp == 1 {
            src = self.reshape("lift", x, vec![xs[0], xs[1], 1, xs[2]])?;
        }
        let op = if is_max {
            FOp::MaxPool {
                window: Self::window(&kernel, &strides, &dil, &pb, &pe_ceil),
            }
        } else {
            let any_pad = pb.iter().chain(&pe).any(|&p| p != 0);
            let any_extra = extra.iter().any(|&p| p != 0);
            if !count_include_pad || !any_pad {
                FOp::AvgPool {
                    window: Self::window(&kernel, &strides, &dil, &pb, &pe_ceil),
                    count_include_pad: count_include_pad && !any_extra,
                }
            } else if !any_extra {
                FOp::AvgPool {
                    window: Self::window(&kernel, &strides, &dil, &pb, &pe),
                    count_include_pad: true,
                }
            } else {
                // Padding counts in the divisor but the ceil-mode overhang does not: pad
                // explicitly, then average over the valid part of each window.
                let (mut begin, mut end) = (vec![0usize; 4], vec![0usize; 4]);
                for i in 0..nsp {
                    begin[4 - nsp + i] = pb[i];
                    end[4 - nsp + i] = pe[i];
                }
                src = self.aux(
                    "pad",
                    FOp::Pad {
                        begin,
                        end,
                        interior: vec![0; 4],
                        value: 0.0,
                    },
                    vec![src],
                )?;
                let zeros = vec![0usize; nsp];
                FOp::AvgPool {
                    window: Self::window(&kernel, &strides, &dil, &zeros, &extra),
                    count_include_pad: false,
                }
            }
        };
        let mut outs = if nsp == 2 {
            one(self.fin(op, vec![src])?)
        } else {
            let out = format!("{}/pool2d", self.out_name(0));
            let y = self.emit("", out, op, vec![src])?;
            let ys = self.shape(y);
            one(self.fin_as(
                "unlift",
                FOp::Reshape {
                    shape: vec![ys[0], ys[1], ys[3]],
                },
                vec![y],
            )?)
        };
        outs.extend(std::iter::repeat_n(
            None,
            self.node.output.len().saturating_sub(1),
        ));
        Ok(outs)
    }

    fn reduce(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let r = self.rank(x);
        let op = self.op().to_string();
        let axes_as_input = if op == "ReduceSum" {
            self.opset >= 13
        } else {
            self.opset >= 18
        };
        let axes_raw = if axes_as_input {
            match self.opt(1) {
                Some(_) => Some(self.const_ints(1, "axes")?),
                None => None,
            }
        } else {
            self.a.ints("axes")?
        };
        let keep = self.a.int_or("keepdims", 1)? != 0;
        let noop = self.a.int_or("noop_with_empty_axes", 0)? != 0;
        let mut axes = match axes_raw {
            Some(v) if !v.is_empty() => self.axes(&v, r, "axes")?,
            _ if noop => Vec::new(),
            _ => (0..r).collect(),
        };
        axes.sort_unstable();
        let mut src = x;
        match op.as_str() {
            "ReduceSumSquare" | "ReduceL2" => src = self.aux("square", FOp::Mul, vec![x, x])?,
            "ReduceL1" => src = self.aux("abs", FOp::Unary(UnaryFn::Abs), vec![x])?,
            _ => {}
        }
        let kind = match op.as_str() {
            "ReduceMean" => ReduceKind::Mean,
            "ReduceMax" => ReduceKind::Max,
            "ReduceMin" => ReduceKind::Min,
            _ => ReduceKind::Sum,
        };
        if axes.is_empty() {
            if op == "ReduceL2" {
                return Ok(one(self.fin_as(
                    "sqrt",
                    FOp::Unary(UnaryFn::Sqrt),
                    vec![src],
                )?));
            }
            return Ok(one(src));
        }
        let rop = FOp::Reduce {
            kind,
            axes,
            keep_dims: keep,
        };
        if op == "ReduceL2" {
            let out = format!("{}/sum", self.out_name(0));
            let s = self.emit("", out, rop, vec![src])?;
            return Ok(one(self.fin_as(
                "sqrt",
                FOp::Unary(UnaryFn::Sqrt),
                vec![s],
            )?));
        }
        Ok(one(self.fin(rop, vec![src])?))
    }

    // ----- shape manipulation ---------------------------------------------------------------

    fn final_reshape(&mut self, x: usize, shape: Vec<usize>) -> Result<Vec<Option<usize>>> {
        if self.b.shape(x) == shape.as_slice() {
            return Ok(one(x));
        }
        Ok(one(self.fin(FOp::Reshape { shape }, vec![x])?))
    }

    fn flatten(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let r = xs.len() as i64;
        let axis = self.a.int_or("axis", 1)?;
        if axis < -r || axis > r {
            return Err(self.bad("axis", format!("{axis} out of range for rank {r}")));
        }
        let axis = if axis < 0 { axis + r } else { axis } as usize;
        let outer: usize = xs[..axis].iter().product();
        let inner: usize = xs[axis..].iter().product();
        self.final_reshape(x, vec![outer, inner])
    }

    fn reshape_op(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let spec = if self.opset < 5 {
            self.a
                .ints("shape")?
                .ok_or_else(|| self.bad("shape", "required attribute is missing"))?
        } else {
            self.const_ints(1, "target shape")?
        };
        let allowzero = self.a.int_or("allowzero", 0)? != 0;
        let xs = self.shape(x);
        let total = numel(&xs).unwrap_or(0);
        let mut out = Vec::with_capacity(spec.len());
        let mut infer = None;
        for (i, &v) in spec.iter().enumerate() {
            match v {
                -1 if infer.is_none() => {
                    infer = Some(i);
                    out.push(1);
                }
                0 if !allowzero => out.push(*xs.get(i).ok_or_else(|| {
                    self.shape_err(format!("dimension {i} to copy"), format!("{xs:?}"))
                })?),
                v if v >= 0 => out.push(v as usize),
                v => {
                    return Err(self.shape_err(
                        "target dims >= -1 with at most one -1",
                        format!("{v} in {spec:?}"),
                    ))
                }
            }
        }
        if let Some(i) = infer {
            let rest = numel(&out).unwrap_or(0);
            if rest == 0 || !total.is_multiple_of(rest) {
                return Err(self.shape_err(
                    format!("a shape compatible with {xs:?}"),
                    format!("{spec:?}"),
                ));
            }
            out[i] = total / rest;
        }
        if numel(&out) != Some(total) {
            return Err(self.shape_err(
                format!("a shape with {total} elements (input {xs:?})"),
                format!("{spec:?}"),
            ));
        }
        self.final_reshape(x, out)
    }

    fn axes_input_or_attr(&self, from_input_opset: i64) -> Result<Option<Vec<i64>>> {
        if self.opset >= from_input_opset {
            match self.opt(1) {
                Some(_) => Ok(Some(self.const_ints(1, "axes")?)),
                None => Ok(None),
            }
        } else {
            self.a.ints("axes")
        }
    }

    fn squeeze(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let axes = match self.axes_input_or_attr(13)? {
            Some(v) => self.axes(&v, xs.len(), "axes")?,
            None => (0..xs.len()).filter(|&i| xs[i] == 1).collect(),
        };
        for &a in &axes {
            if xs[a] != 1 {
                return Err(self.shape_err(format!("dimension {a} of size 1"), format!("{xs:?}")));
            }
        }
        let out = xs
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect();
        self.final_reshape(x, out)
    }

    fn unsqueeze(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let raw = self
            .axes_input_or_attr(13)?
            .ok_or_else(|| self.bad("axes", "required"))?;
        let r = xs.len() + raw.len();
        let axes = self.axes(&raw, r, "axes")?;
        let mut out = Vec::with_capacity(r);
        let mut it = xs.iter();
        for i in 0..r {
            if axes.contains(&i) {
                out.push(1);
            } else {
                out.push(*it.next().ok_or_else(|| self.bad("axes", "inconsistent"))?);
            }
        }
        self.final_reshape(x, out)
    }

    fn transpose(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let r = self.rank(x);
        let perm = match self.ints_attr_usize("perm")? {
            Some(p) => p,
            None => (0..r).rev().collect(),
        };
        if !crate::graph::is_permutation(&perm, r) {
            return Err(self.bad("perm", format!("{perm:?} is not a permutation of 0..{r}")));
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(one(x));
        }
        Ok(one(self.fin(FOp::Transpose { perm }, vec![x])?))
    }

    fn concat(&mut self) -> Result<Vec<Option<usize>>> {
        let n = self.node.input.len();
        let mut ins = Vec::with_capacity(n);
        for i in 0..n {
            ins.push(self.input(i)?);
        }
        let first = *ins
            .first()
            .ok_or_else(|| self.unsupported("Concat without inputs"))?;
        let r = self.rank(first);
        let default = if self.opset < 4 { Some(1) } else { None };
        let axis = self
            .a
            .int("axis")?
            .or(default)
            .ok_or_else(|| self.bad("axis", "required attribute is missing"))?;
        let axis = self.axis(axis, r, "axis")?;
        if ins.len() == 1 {
            return Ok(one(first));
        }
        Ok(one(self.fin(FOp::Concat { axis }, ins)?))
    }

    fn slice(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let r = xs.len();
        let (starts, ends, axes, steps) = if self.opset < 10 {
            let s = self
                .a
                .ints("starts")?
                .ok_or_else(|| self.bad("starts", "required"))?;
            let e = self
                .a
                .ints("ends")?
                .ok_or_else(|| self.bad("ends", "required"))?;
            (s, e, self.a.ints("axes")?, None)
        } else {
            let s = self.const_ints(1, "starts")?;
            let e = self.const_ints(2, "ends")?;
            let a = match self.opt(3) {
                Some(_) => Some(self.const_ints(3, "axes")?),
                None => None,
            };
            let st = match self.opt(4) {
                Some(_) => Some(self.const_ints(4, "steps")?),
                None => None,
            };
            (s, e, a, st)
        };
        let n = starts.len();
        let axes = match axes {
            Some(a) => self.axes(&a, r, "axes")?,
            None => (0..n).collect(),
        };
        let steps = steps.unwrap_or_else(|| vec![1; n]);
        if ends.len() != n || axes.len() != n || steps.len() != n || n > r {
            return Err(self.shape_err(
                "starts, ends, axes and steps of equal length (at most the rank)",
                format!("{} / {} / {} / {}", n, ends.len(), axes.len(), steps.len()),
            ));
        }
        let mut st = vec![0usize; r];
        let mut lens = xs.clone();
        let mut stp = vec![1i64; r];
        for i in 0..n {
            let a = axes[i];
            let d = xs[a] as i128;
            let step = steps[i] as i128;
            if step == 0 {
                return Err(self.shape_err("non-zero steps", format!("{steps:?}")));
            }
            let mut s = starts[i] as i128;
            let mut e = ends[i] as i128;
            if s < 0 {
                s += d;
            }
            if e < 0 {
                e += d;
            }
            let len = if step > 0 {
                s = s.clamp(0, d);
                e = e.clamp(0, d);
                if e > s {
                    (e - s + step - 1) / step
                } else {
                    0
                }
            } else {
                s = s.clamp(0, (d - 1).max(0));
                e = e.clamp(-1, d - 1);
                if d > 0 && s > e {
                    (s - e + (-step) - 1) / (-step)
                } else {
                    0
                }
            };
            lens[a] = len as usize;
            st[a] = if len > 0 { s as usize } else { 0 };
            stp[a] = if len > 1 { steps[i] } else { 1 };
        }
        if lens == xs && stp.iter().all(|&s| s == 1) {
            return Ok(one(x));
        }
        Ok(one(self.fin(
            FOp::Slice {
                starts: st,
                lens,
                steps: stp,
            },
            vec![x],
        )?))
    }

    fn split(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let r = xs.len();
        let axis = self.axis(self.a.int_or("axis", 0)?, r, "axis")?;
        let d = xs[axis];
        let nout = self.node.output.len();
        let sizes: Vec<usize> = {
            let explicit = if self.opset >= 13 {
                match self.opt(1) {
                    Some(_) => Some(self.const_ints(1, "split")?),
                    None => None,
                }
            } else {
                self.a.ints("split")?
            };
            match explicit {
                Some(v) => v
                    .iter()
                    .map(|&s| usize_of(s, "split"))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| self.bad("split", e))?,
                None => {
                    let parts = match self.a.int("num_outputs")? {
                        Some(k) if k >= 1 && k as u64 == nout as u64 => k as usize,
                        Some(k) => {
                            return Err(self.bad(
                                "num_outputs",
                                format!("{k} does not match the {nout} outputs"),
                            ))
                        }
                        None => nout,
                    };
                    if parts == 0 {
                        return Err(self.bad("num_outputs", "no outputs"));
                    }
                    if self.a.has("num_outputs") {
                        let chunk = d.div_ceil(parts);
                        (0..parts)
                            .map(|i| chunk.min(d.saturating_sub(i * chunk)))
                            .collect()
                    } else {
                        if !d.is_multiple_of(parts) {
                            return Err(self.shape_err(
                                format!("dimension {d} divisible into {parts} parts"),
                                format!("{xs:?}"),
                            ));
                        }
                        vec![d / parts; parts]
                    }
                }
            }
        };
        if sizes.len() != nout || sizes.iter().try_fold(0usize, |a, &b| a.checked_add(b)) != Some(d)
        {
            return Err(self.shape_err(
                format!("{nout} split sizes summing to {d}"),
                format!("{sizes:?}"),
            ));
        }
        let mut outs = Vec::with_capacity(nout);
        let mut off = 0;
        for (k, &len) in sizes.iter().enumerate() {
            if self.node.output.get(k).is_none_or(|s| s.is_empty()) {
                outs.push(None);
                off += len;
                continue;
            }
            let mut starts = vec![0usize; r];
            let mut lens = xs.clone();
            starts[axis] = if len > 0 { off } else { 0 };
            lens[axis] = len;
            let t = if len == d {
                x
            } else {
                let out = self.out_name(k);
                self.emit(
                    &format!("{k}"),
                    out,
                    FOp::Slice {
                        starts,
                        lens,
                        steps: vec![1; r],
                    },
                    vec![x],
                )?
            };
            outs.push(Some(t));
            off += len;
        }
        Ok(outs)
    }

    fn pad(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let r = xs.len();
        let mode = self.a.string("mode")?.unwrap_or_else(|| "constant".into());
        let (pads, value, axes) = if self.opset < 11 {
            let p = self
                .a
                .ints(if self.opset < 2 { "paddings" } else { "pads" })?
                .ok_or_else(|| self.bad("pads", "required attribute is missing"))?;
            (p, self.a.float_or("value", 0.0)?, None)
        } else {
            let p = self.const_ints(1, "pads")?;
            let v = match self.opt(2) {
                Some(_) => self.const_scalar(2, "constant_value")? as f32,
                None => 0.0,
            };
            let axes = match self.opt(3) {
                Some(_) => Some(self.const_ints(3, "axes")?),
                None => None,
            };
            (p, v, axes)
        };
        let axes = match axes {
            Some(a) => self.axes(&a, r, "axes")?,
            None => (0..r).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(self.shape_err(
                format!("{} pad values", 2 * axes.len()),
                format!("{}", pads.len()),
            ));
        }
        let mut begin = vec![0i64; r];
        let mut end = vec![0i64; r];
        for (i, &a) in axes.iter().enumerate() {
            begin[a] = pads[i];
            end[a] = pads[axes.len() + i];
        }
        for a in 0..r {
            if begin[a].unsigned_abs() > 1 << 31
                || end[a].unsigned_abs() > 1 << 31
                || begin[a] + xs[a] as i64 + end[a] < 0
            {
                return Err(self.shape_err(
                    "pads leaving a non-negative size",
                    format!("{pads:?} for {xs:?}"),
                ));
            }
        }
        if begin.iter().chain(&end).all(|&p| p == 0) {
            return Ok(one(x));
        }
        match mode.as_str() {
            "constant" => {
                let mut t = x;
                if begin.iter().chain(&end).any(|&p| p < 0) {
                    let starts: Vec<usize> = begin.iter().map(|&b| (-b).max(0) as usize).collect();
                    let lens: Vec<usize> = (0..r)
                        .map(|a| (xs[a] as i64 + begin[a].min(0) + end[a].min(0)).max(0) as usize)
                        .collect();
                    let starts = starts
                        .iter()
                        .zip(&lens)
                        .map(|(&s, &l)| if l == 0 { 0 } else { s })
                        .collect();
                    let positive = begin.iter().chain(&end).any(|&p| p > 0);
                    let op = FOp::Slice {
                        starts,
                        lens,
                        steps: vec![1; r],
                    };
                    t = if positive {
                        self.aux("crop", op, vec![t])?
                    } else {
                        self.fin(op, vec![t])?
                    };
                    if !positive {
                        return Ok(one(t));
                    }
                }
                Ok(one(self.fin(
                    FOp::Pad {
                        begin: begin.iter().map(|&b| b.max(0) as usize).collect(),
                        end: end.iter().map(|&e| e.max(0) as usize).collect(),
                        interior: vec![0; r],
                        value,
                    },
                    vec![t],
                )?))
            }
            "edge" | "reflect" | "wrap" => {
                let padded: Vec<usize> = (0..r).filter(|&a| begin[a] != 0 || end[a] != 0).collect();
                let mut t = x;
                for (j, &a) in padded.iter().enumerate() {
                    let d = xs[a] as i64;
                    if d == 0 {
                        return Err(self.shape_err(
                            format!("a non-empty axis {a} to pad in {mode} mode"),
                            format!("{xs:?}"),
                        ));
                    }
                    let n = d + begin[a] + end[a];
                    self.check_alloc(n as usize)?;
                    let mut idx = Vec::with_capacity(n as usize);
                    for o in 0..n {
                        let src = o - begin[a];
                        let i = match mode.as_str() {
                            "edge" => src.clamp(0, d - 1),
                            "wrap" => src.rem_euclid(d),
                            _ => {
                                if d == 1 {
                                    0
                                } else {
                                    let period = 2 * (d - 1);
                                    let m = src.rem_euclid(period);
                                    if m < d {
                                        m
                                    } else {
                                        period - m
                                    }
                                }
                            }
                        };
                        idx.push(i as usize);
                    }
                    let op = FOp::Gather {
                        axis: a,
                        indices_shape: vec![idx.len()],
                        indices: idx,
                    };
                    t = if j + 1 == padded.len() {
                        self.fin(op, vec![t])?
                    } else {
                        self.aux(&format!("pad_axis{a}"), op, vec![t])?
                    };
                }
                Ok(one(t))
            }
            other => Err(self.bad("mode", format!("unknown pad mode '{other}'"))),
        }
    }

    fn gather(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let ind = self.input(1)?;
        let xs = self.shape(x);
        let axis = self.axis(self.a.int_or("axis", 0)?, xs.len(), "axis")?;
        let d = xs[axis] as i64;
        if let Some(k) = self.b.konst_of(ind) {
            let raw = k
                .to_i64()
                .ok_or_else(|| self.shape_err("integer indices", "non-integral values"))?;
            let mut idx = Vec::with_capacity(raw.len());
            for &i in &raw {
                let j = if i < 0 { i + d } else { i };
                if j < 0 || j >= d {
                    return Err(self.shape_err(format!("indices in [-{d}, {d})"), format!("{i}")));
                }
                idx.push(j as usize);
            }
            let indices_shape = self.shape(ind);
            return Ok(one(self.fin(
                FOp::Gather {
                    axis,
                    indices_shape,
                    indices: idx,
                },
                vec![x],
            )?));
        }
        if self.b.tensors[ind].class != Class::Int {
            return Err(self.shape_err("integer indices", "a float tensor"));
        }
        Ok(one(self.fin(FOp::GatherDynamic { axis }, vec![x, ind])?))
    }

    fn where_op(&mut self) -> Result<Vec<Option<usize>>> {
        let c = self.konst(
            0,
            "the Where condition must be known at import time (e.g. a constant attention mask)",
        )?;
        let ct = self.input(0)?;
        let a = self.input(1)?;
        let b = self.input(2)?;
        let cond_shape = self.shape(ct);
        Ok(one(self.fin(
            FOp::Where {
                cond_shape,
                cond: c.to_bool(),
            },
            vec![a, b],
        )?))
    }

    /// Broadcasts `x` to `out` with reshape + gathers (constants fold).
    fn broadcast_to(&mut self, x: usize, out: &[usize]) -> Result<usize> {
        let xs = self.shape(x);
        if xs.as_slice() == out {
            return Ok(x);
        }
        if let Some(k) = self.b.konst_of(x) {
            if numel(out).unwrap_or(usize::MAX) > MAX_FOLDED_ELEMENTS {
                return Err(OnnxError::TooLarge {
                    tensor: self.out_name(0),
                    elements: numel(out).map_or(u128::MAX, |n| n as u128),
                    limit: MAX_FOLDED_ELEMENTS as u128,
                });
            }
            let k = match k {
                Konst::F(v) => Konst::F(eval::expand(
                    In {
                        shape: &xs,
                        data: v,
                    },
                    out,
                )),
                Konst::I(v) => Konst::I(eval::expand(
                    In {
                        shape: &xs,
                        data: v,
                    },
                    out,
                )),
                Konst::B(v) => Konst::B(eval::expand(
                    In {
                        shape: &xs,
                        data: v,
                    },
                    out,
                )),
            };
            return self.cst("", out.to_vec(), k);
        }
        let mut lifted = vec![1usize; out.len() - xs.len()];
        lifted.extend_from_slice(&xs);
        let axes: Vec<usize> = (0..out.len()).filter(|&a| lifted[a] != out[a]).collect();
        if axes.is_empty() {
            // Only the rank changed.
            return self.fin_as(
                "expand",
                FOp::Reshape {
                    shape: out.to_vec(),
                },
                vec![x],
            );
        }
        let mut t = self.reshape("rank", x, lifted)?;
        for (j, &a) in axes.iter().enumerate() {
            self.check_alloc(out[a])?;
            let op = FOp::Gather {
                axis: a,
                indices_shape: vec![out[a]],
                indices: vec![0; out[a]],
            };
            t = if j + 1 == axes.len() {
                self.fin(op, vec![t])?
            } else {
                self.aux(&format!("expand_axis{a}"), op, vec![t])?
            };
        }
        Ok(t)
    }

    fn expand(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let target = self.const_ints(1, "target shape")?;
        let target = target
            .iter()
            .map(|&v| usize_of(v, "shape"))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.shape_err("non-negative dims", e))?;
        let xs = self.shape(x);
        let out = broadcast(&[&xs, &target])
            .map_err(|m| self.shape_err(m, format!("{xs:?} to {target:?}")))?;
        crate::load::checked_numel(&out, &self.out_name(0))?;
        Ok(one(self.broadcast_to(x, &out)?))
    }

    fn tile(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let reps = self.const_ints(1, "repeats")?;
        let xs = self.shape(x);
        if reps.len() != xs.len() {
            return Err(self.shape_err(format!("{} repeats", xs.len()), format!("{reps:?}")));
        }
        let mut out = xs.clone();
        for (a, &r) in reps.iter().enumerate() {
            let r =
                usize_of(r, "repeats").map_err(|e| self.shape_err("non-negative repeats", e))?;
            out[a] = xs[a]
                .checked_mul(r)
                .ok_or_else(|| self.shape_err("a representable size", "overflow"))?;
        }
        crate::load::checked_numel(&out, &self.out_name(0))?;
        let axes: Vec<usize> = (0..xs.len()).filter(|&a| out[a] != xs[a]).collect();
        if axes.is_empty() {
            return Ok(one(x));
        }
        let mut t = x;
        for (j, &a) in axes.iter().enumerate() {
            let d = xs[a];
            self.check_alloc(out[a])?;
            let op = FOp::Gather {
                axis: a,
                indices_shape: vec![out[a]],
                indices: (0..out[a]).map(|i| i % d.max(1)).collect(),
            };
            t = if j + 1 == axes.len() {
                self.fin(op, vec![t])?
            } else {
                self.aux(&format!("tile_axis{a}"), op, vec![t])?
            };
        }
        Ok(one(t))
    }

    fn depth_space(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        if xs.len() != 4 {
            return Err(self.shape_err("input [N, C, H, W]", format!("{xs:?}")));
        }
        let bs = self.int_attr_usize("blocksize", 0)?;
        if bs == 0 {
            return Err(self.bad("blocksize", "required and must be >= 1"));
        }
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
        if bs > c.max(h).max(w).max(1) {
            return Err(self.bad(
                "blocksize",
                format!("{bs} exceeds the input dimensions {xs:?}"),
            ));
        }
        let (five, perm, out) = if self.op() == "DepthToSpace" {
            if !c.is_multiple_of(bs * bs) {
                return Err(self.shape_err(
                    format!("channels divisible by {}", bs * bs),
                    format!("{xs:?}"),
                ));
            }
            let co = c / (bs * bs);
            let mode = self.a.string("mode")?.unwrap_or_else(|| "DCR".into());
            match mode.as_str() {
                "DCR" => (
                    vec![n, bs, bs, co, h, w],
                    vec![0, 3, 4, 1, 5, 2],
                    vec![n, co, h * bs, w * bs],
                ),
                "CRD" => (
                    vec![n, co, bs, bs, h, w],
                    vec![0, 1, 4, 2, 5, 3],
                    vec![n, co, h * bs, w * bs],
                ),
                other => return Err(self.bad("mode", format!("unknown mode '{other}'"))),
            }
        } else {
            if !h.is_multiple_of(bs) || !w.is_multiple_of(bs) {
                return Err(
                    self.shape_err(format!("spatial dims divisible by {bs}"), format!("{xs:?}"))
                );
            }
            let mode = self.a.string("mode")?.unwrap_or_else(|| "DCR".into());
            let perm = match mode.as_str() {
                "DCR" => vec![0, 3, 5, 1, 2, 4],
                "CRD" => vec![0, 1, 3, 5, 2, 4],
                other => return Err(self.bad("mode", format!("unknown mode '{other}'"))),
            };
            (
                vec![n, c, h / bs, bs, w / bs, bs],
                perm,
                vec![n, c * bs * bs, h / bs, w / bs],
            )
        };
        let t = self.reshape("split", x, five)?;
        let t = self.aux("permute", FOp::Transpose { perm }, vec![t])?;
        Ok(one(self.fin_as(
            "merge",
            FOp::Reshape { shape: out },
            vec![t],
        )?))
    }

    // ----- import-time (shape) computations -------------------------------------------------

    fn shape_op(&mut self) -> Result<Vec<Option<usize>>> {
        let x = self.input(0)?;
        let xs = self.shape(x);
        let r = xs.len() as i64;
        let norm = |v: i64| -> usize { (if v < 0 { v + r } else { v }).clamp(0, r) as usize };
        let start = norm(self.a.int_or("start", 0)?);
        let end = norm(self.a.int_or("end", r)?);
        let dims: Vec<i64> = if start < end {
            xs[start..end].iter().map(|&d| d as i64).collect()
        } else {
            Vec::new()
        };
        let n = dims.len();
        Ok(one(self.cst("", vec![n], Konst::I(dims))?))
    }

    fn constant_of_shape(&mut self) -> Result<Vec<Option<usize>>> {
        let dims = self.const_ints(0, "shape")?;
        let shape = dims
            .iter()
            .map(|&v| usize_of(v, "shape"))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.shape_err("non-negative dims", e))?;
        let n = crate::load::checked_numel(&shape, &self.out_name(0))?;
        if n > MAX_FOLDED_ELEMENTS {
            return Err(OnnxError::TooLarge {
                tensor: self.out_name(0),
                elements: n as u128,
                limit: MAX_FOLDED_ELEMENTS as u128,
            });
        }
        let value = match self.a.tensor("value")? {
            Some(t) => proto::tensor_value(t, &self.out_name(0))?.1,
            None => Konst::F(vec![0.0]),
        };
        let k = value
            .splat(n)
            .ok_or_else(|| self.bad("value", "must hold one element"))?;
        Ok(one(self.cst("", shape, k)?))
    }

    fn range(&mut self) -> Result<Vec<Option<usize>>> {
        let hint = "Range bounds must be known at import time";
        let ks = [
            self.konst(0, hint)?,
            self.konst(1, hint)?,
            self.konst(2, hint)?,
        ];
        if ks.iter().any(|k| k.len() != 1) {
            return Err(self.shape_err("scalar start, limit and delta", "non-scalars"));
        }
        let ints = ks.iter().all(|k| k.class() == Class::Int);
        let v: Vec<f64> = ks.iter().map(|k| k.to_f64()[0]).collect();
        let (s, l, d) = (v[0], v[1], v[2]);
        if d == 0.0 || !(s.is_finite() && l.is_finite() && d.is_finite()) {
            return Err(self.shape_err("a finite non-zero delta", format!("{d}")));
        }
        let n = ((l - s) / d).ceil().max(0.0);
        if n > MAX_FOLDED_ELEMENTS as f64 {
            return Err(OnnxError::TooLarge {
                tensor: self.out_name(0),
                elements: n as u128,
                limit: MAX_FOLDED_ELEMENTS as u128,
            });
        }
        let n = n as usize;
        let k = if ints {
            let iv: Vec<i64> = ks.iter().filter_map(|k| k.to_i64()).map(|v| v[0]).collect();
            let (s, d) = (iv[0], iv[2]);
            Konst::I(
                (0..n as i64)
                    .map(|i| s.wrapping_add(i.wrapping_mul(d)))
                    .collect(),
            )
        } else {
            Konst::F((0..n).map(|i| (s + i as f64 * d) as f32).collect())
        };
        Ok(one(self.cst("", vec![n], k)?))
    }

    fn const_binary(&mut self) -> Result<Vec<Option<usize>>> {
        let hint = "this op is only supported on values known at import time (shape computations)";
        let (a, b) = (self.konst(0, hint)?, self.konst(1, hint)?);
        let (ta, tb) = (self.input(0)?, self.input(1)?);
        let (sa, sb) = (self.shape(ta), self.shape(tb));
        let out =
            broadcast(&[&sa, &sb]).map_err(|m| self.shape_err(m, format!("{sa:?} and {sb:?}")))?;
        let op = self.op().to_string();
        let ints = a.class() != Class::Float && b.class() != Class::Float;
        let k = if matches!(op.as_str(), "And" | "Or" | "Xor") {
            let (va, vb) = (a.to_bool(), b.to_bool());
            let f: fn(bool, bool) -> bool = match op.as_str() {
                "And" => |x, y| x && y,
                "Or" => |x, y| x || y,
                _ => |x, y| x ^ y,
            };
            Konst::B(eval::binary(
                In {
                    shape: &sa,
                    data: &va,
                },
                In {
                    shape: &sb,
                    data: &vb,
                },
                &out,
                f,
            ))
        } else if op == "Mod" {
            let fmod = self.a.int_or("fmod", 0)? != 0;
            if ints && !fmod {
                let (va, vb) = (
                    a.to_i64().unwrap_or_default(),
                    b.to_i64().unwrap_or_default(),
                );
                if vb.contains(&0) {
                    return Err(self.shape_err("a non-zero divisor", "0"));
                }
                Konst::I(eval::binary(
                    In {
                        shape: &sa,
                        data: &va,
                    },
                    In {
                        shape: &sb,
                        data: &vb,
                    },
                    &out,
                    |x: i64, y: i64| {
                        let m = x.wrapping_rem(y);
                        if m != 0 && ((m < 0) != (y < 0)) {
                            m + y
                        } else {
                            m
                        }
                    },
                ))
            } else {
                let (va, vb) = (a.to_f64(), b.to_f64());
                let v = eval::binary(
                    In {
                        shape: &sa,
                        data: &va,
                    },
                    In {
                        shape: &sb,
                        data: &vb,
                    },
                    &out,
                    |x: f64, y: f64| {
                        if fmod {
                            x % y
                        } else {
                            x - y * (x / y).floor()
                        }
                    },
                );
                if ints {
                    Konst::I(v.iter().map(|&f| f as i64).collect())
                } else {
                    Konst::F(v.iter().map(|&f| f as f32).collect())
                }
            }
        } else {
            let f: fn(f64, f64) -> bool = match op.as_str() {
                "Equal" => |x, y| x == y,
                "Less" => |x, y| x < y,
                "LessOrEqual" => |x, y| x <= y,
                "Greater" => |x, y| x > y,
                _ => |x, y| x >= y,
            };
            if ints {
                let (va, vb) = (
                    a.to_i64().unwrap_or_default(),
                    b.to_i64().unwrap_or_default(),
                );
                let g: fn(i64, i64) -> bool = match op.as_str() {
                    "Equal" => |x, y| x == y,
                    "Less" => |x, y| x < y,
                    "LessOrEqual" => |x, y| x <= y,
                    "Greater" => |x, y| x > y,
                    _ => |x, y| x >= y,
                };
                Konst::B(eval::binary(
                    In {
                        shape: &sa,
                        data: &va,
                    },
                    In {
                        shape: &sb,
                        data: &vb,
                    },
                    &out,
                    g,
                ))
            } else {
                let (va, vb) = (a.to_f64(), b.to_f64());
                Konst::B(eval::binary(
                    In {
                        shape: &sa,
                        data: &va,
                    },
                    In {
                        shape: &sb,
                        data: &vb,
                    },
                    &out,
                    f,
                ))
            }
        };
        Ok(one(self.cst("", out, k)?))
    }

    fn const_unary(&mut self) -> Result<Vec<Option<usize>>> {
        let hint = "this op is only supported on values known at import time (shape computations)";
        let k = self.konst(0, hint)?;
        let t = self.input(0)?;
        let shape = self.shape(t);
        let op = self.op().to_string();
        let (shape, k) = match (op.as_str(), &k) {
            ("Not", _) => (shape, Konst::B(k.to_bool().iter().map(|&v| !v).collect())),
            ("NonZero", _) => {
                let nz: Vec<usize> = k
                    .to_bool()
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| v)
                    .map(|(i, _)| i)
                    .collect();
                let r = shape.len();
                let st = eval::strides(&shape);
                let mut v = vec![0i64; r * nz.len()];
                for (j, &flat) in nz.iter().enumerate() {
                    for a in 0..r {
                        v[a * nz.len() + j] = ((flat / st[a]) % shape[a].max(1)) as i64;
                    }
                }
                (vec![r, nz.len()], Konst::I(v))
            }
            (_, Konst::I(v)) => {
                let v = if op == "Sign" {
                    v.iter().map(|x| x.signum()).collect()
                } else {
                    v.clone()
                };
                (shape, Konst::I(v))
            }
            (_, _) => {
                let f: fn(f32) -> f32 = match op.as_str() {
                    "Floor" => f32::floor,
                    "Ceil" => f32::ceil,
                    "Round" => f32::round_ties_even,
                    _ => |x: f32| {
                        if x > 0.0 {
                            1.0
                        } else if x < 0.0 {
                            -1.0
                        } else {
                            0.0
                        }
                    },
                };
                (shape, Konst::F(k.to_f32().into_iter().map(f).collect()))
            }
        };
        Ok(one(self.cst("", shape, k)?))
    }
}
