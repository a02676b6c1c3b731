//! Lowering of each float op into integer IR nodes.

use vouch_ir::{
    BinaryKind, LookupTable, Op, ProgramBuilder, Range, ReduceKind, TableFn, TensorId, Window,
};

use super::{id_input_limit, QTensor, QuantConfig, QuantError, Quantized, Stats};
use crate::graph::{FDType, FNode, FOp, FloatGraph, ReduceKind as FReduce, UnaryFn};

/// Real values whose magnitude is at least this are treated as minus infinity in additive masks.
const MASK_NEG: f32 = -1000.0;
/// Exponent of the exp table's output scale (2^-EXP_BITS) inside softmax.
const EXP_BITS: u32 = 16;
/// Bound on intermediate products of requantization, kept below the IR's 2^62.
const PRODUCT_BOUND: i128 = 1 << 61;
/// Extra bits of precision of a runtime quotient over the division's output scale.
const DIV_GUARD_BITS: u32 = 8;

pub(super) fn lower(
    g: &FloatGraph,
    stats: &[Stats],
    cfg: &QuantConfig,
) -> Result<Quantized, QuantError> {
    let mut consumers = vec![Vec::new(); g.tensors.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for &t in &n.inputs {
            if let Some(c) = consumers.get_mut(t) {
                c.push(i);
            }
        }
    }
    let mut is_output = vec![false; g.tensors.len()];
    for &o in &g.outputs {
        is_output[o] = true;
    }
    let mut l = Lowering {
        g,
        stats,
        cfg,
        b: ProgramBuilder::new(),
        map: vec![None; g.tensors.len()],
        consumers,
        fused: vec![false; g.nodes.len()],
        is_output,
    };
    l.inputs()?;
    for (i, node) in g.nodes.iter().enumerate() {
        if !l.fused[i] {
            l.node(node)?;
        }
    }
    for &o in &g.outputs {
        let q = l.get(o, &g.tensors[o].name)?;
        l.b.output(q.id);
    }
    let program = l.b.finish()?;
    Ok(Quantized {
        program,
        map: l.map,
    })
}

struct Lowering<'a> {
    g: &'a FloatGraph,
    stats: &'a [Stats],
    cfg: &'a QuantConfig,
    b: ProgramBuilder,
    map: Vec<Option<QTensor>>,
    consumers: Vec<Vec<usize>>,
    fused: Vec<bool>,
    is_output: Vec<bool>,
}

/// A clamp in real units applied by a fused activation.
#[derive(Clone, Copy)]
struct RealClamp {
    lo: f32,
    hi: f32,
}

impl<'a> Lowering<'a> {
    fn unsupported(&self, node: &FNode, msg: impl Into<String>) -> QuantError {
        QuantError::Unsupported {
            node: node.name.clone(),
            op: node.onnx_op.clone(),
            msg: msg.into(),
        }
    }

    fn konst(&self, t: usize) -> Option<&'a [f32]> {
        self.g.tensors.get(t)?.value.as_deref()
    }

    fn shape(&self, t: usize) -> &'a [usize] {
        &self.g.tensors[t].shape
    }

    /// Scale and integer range of an activation, from its calibrated range.
    fn act_params(&self, t: usize, bits: u32) -> (f64, Range) {
        let st = self.stats[t];
        if st.min >= 0.0 {
            let hi = (1i64 << bits) - 1;
            let max = if st.max > 0.0 { st.max as f64 } else { 1.0 };
            (max / hi as f64, Range::new(0, hi))
        } else {
            let q = (1i64 << (bits - 1)) - 1;
            (st.abs_max() as f64 / q as f64, Range::new(-q, q))
        }
    }

    fn act(&self, t: usize) -> (f64, Range) {
        self.act_params(t, self.cfg.act_bits)
    }

    fn inputs(&mut self) -> Result<(), QuantError> {
        for &i in &self.g.inputs {
            let t = &self.g.tensors[i];
            let q = match t.dtype {
                FDType::F32 => {
                    let (scale, range) = self.act(i);
                    let id = self.b.input(&t.name, t.shape.clone(), range, Some(scale))?;
                    QTensor { id, scale }
                }
                FDType::I64 => {
                    let dim = id_input_limit(self.g, i).ok_or_else(|| QuantError::Input {
                        input: t.name.clone(),
                        msg: "integer inputs are supported only as gather (embedding) indices"
                            .into(),
                    })?;
                    let id = self.b.input(
                        &t.name,
                        t.shape.clone(),
                        Range::new(0, dim as i64 - 1),
                        None,
                    )?;
                    QTensor { id, scale: 1.0 }
                }
            };
            self.map[i] = Some(q);
        }
        Ok(())
    }

    /// The integer version of a tensor; constants used as activations are quantized on demand
    /// at activation precision.
    fn get(&mut self, t: usize, ctx: &str) -> Result<QTensor, QuantError> {
        if let Some(q) = self.map[t] {
            return Ok(q);
        }
        let Some(v) = self.konst(t) else {
            return Err(QuantError::Unsupported {
                node: ctx.to_string(),
                op: "?".into(),
                msg: format!(
                    "tensor '{}' is used before it is produced",
                    self.g.tensors[t].name
                ),
            });
        };
        let bits = self.cfg.act_bits;
        let (scale, data) = quantize_symmetric(v, bits);
        let name = format!("{}/q", self.g.tensors[t].name);
        let id = self
            .b
            .weight(&name, self.g.tensors[t].shape.clone(), data, Some(scale))?;
        let q = QTensor { id, scale };
        self.map[t] = Some(q);
        Ok(q)
    }

    fn set(&mut self, t: usize, id: TensorId, scale: f64) {
        self.map[t] = Some(QTensor { id, scale });
    }

    fn sole_consumer(&self, t: usize) -> Option<usize> {
        match self.consumers[t].as_slice() {
            [n] if !self.is_output[t] && !self.fused[*n] => Some(*n),
            _ => None,
        }
    }

    /// Fuses a following ReLU / Clip into the producer's requantization.
    fn fuse_activation(&mut self, out: usize) -> (usize, Option<RealClamp>) {
        if let Some(n) = self.sole_consumer(out) {
            let node = &self.g.nodes[n];
            let clamp = match node.op {
                FOp::Unary(UnaryFn::Relu) => Some(RealClamp {
                    lo: 0.0,
                    hi: f32::INFINITY,
                }),
                FOp::Unary(UnaryFn::Clip { lo, hi }) => Some(RealClamp { lo, hi }),
                _ => None,
            };
            if let Some(c) = clamp {
                self.fused[n] = true;
                return (node.output, Some(c));
            }
        }
        (out, None)
    }

    /// A following `Add` of a constant vector over the last axis, fused as a MatMul bias.
    fn fuse_bias(&mut self, out: usize, n_cols: usize) -> (usize, Option<&'a [f32]>) {
        if let Some(n) = self.sole_consumer(out) {
            let node = &self.g.nodes[n];
            if matches!(node.op, FOp::Add) && node.inputs.len() == 2 {
                let other = if node.inputs[0] == out {
                    node.inputs[1]
                } else {
                    node.inputs[0]
                };
                if let Some(c) = self.konst(other) {
                    let shape = self.shape(other);
                    let last_only = shape.last() == Some(&n_cols)
                        && shape.iter().rev().skip(1).all(|&d| d == 1)
                        && shape.len() <= self.shape(out).len();
                    if last_only && other != out {
                        self.fused[n] = true;
                        return (node.output, Some(c));
                    }
                }
            }
        }
        (out, None)
    }

    /// Output scale and clamped range for a tensor, honouring a fused real clamp.
    fn out_params(&self, t: usize, clamp: Option<RealClamp>) -> (f64, Range) {
        let (scale, mut r) = self.act(t);
        if let Some(c) = clamp {
            if c.lo.is_finite() {
                r.lo = r.lo.max((c.lo as f64 / scale).round() as i64);
            }
            if c.hi.is_finite() {
                r.hi = r.hi.min((c.hi as f64 / scale).round() as i64);
            }
            if r.lo > r.hi {
                r.hi = r.lo;
            }
        }
        (scale, r)
    }

    /// Requantizes `acc` (with per-tensor or per-`axis` scales) to `out_scale`, clamped to `r`.
    fn requant(
        &mut self,
        name: &str,
        acc: TensorId,
        acc_scales: &[f64],
        axis: Option<usize>,
        out_scale: f64,
        r: Range,
    ) -> Result<TensorId, QuantError> {
        let ratios: Vec<f64> = acc_scales.iter().map(|s| s / out_scale).collect();
        let bound = self.b.info(acc).range.abs_max();
        let (mults, shift) = multipliers(&ratios, bound, self.cfg.mult_bits);
        let (mults, axis) = if mults.iter().all(|&m| m == mults[0]) {
            (vec![mults[0]], None)
        } else {
            (mults, axis)
        };
        Ok(self.b.node(
            name,
            Op::Requant {
                mults,
                axis,
                shift,
                lo: r.lo,
                hi: r.hi,
            },
            &[acc],
            Some(out_scale),
        )?)
    }

    /// Exact integer multiplication by a constant (no rounding): `x * m`.
    fn scale_exact(&mut self, name: &str, x: TensorId, m: i64) -> Result<TensorId, QuantError> {
        let wide = (1i64 << 62) - 1;
        Ok(self.b.node(
            name,
            Op::Requant {
                mults: vec![m],
                axis: None,
                shift: 0,
                lo: -wide,
                hi: wide,
            },
            &[x],
            None,
        )?)
    }

    fn node(&mut self, node: &'a FNode) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let ins = &node.inputs;
        let out = node.output;
        match &node.op {
            FOp::MatMul => self.matmul(node),
            FOp::Conv { window, groups } => self.conv(node, window, *groups),
            FOp::Add | FOp::Sub => self.add_sub(node, matches!(node.op, FOp::Sub)),
            FOp::Mul => self.mul(node),
            FOp::Max => self.max_min(node, BinaryKind::Max),
            FOp::Min => self.max_min(node, BinaryKind::Min),
            FOp::Div => self.div(node),
            FOp::Unary(f) => self.unary(node, *f),
            FOp::Softmax { axis } => self.softmax(node, *axis),
            FOp::LayerNorm { axis, eps } => self.layer_norm(node, *axis, *eps),
            FOp::MaxPool { window } => {
                let x = self.get(ins[0], name)?;
                let id = self.b.node(
                    name,
                    Op::MaxPool {
                        window: window.clone(),
                    },
                    &[x.id],
                    Some(x.scale),
                )?;
                self.set(out, id, x.scale);
                Ok(())
            }
            FOp::AvgPool {
                window,
                count_include_pad,
            } => self.avg_pool(node, window, *count_include_pad),
            FOp::Reduce {
                kind,
                axes,
                keep_dims,
            } => self.reduce(node, *kind, axes, *keep_dims),
            FOp::Reshape { shape } => self.wiring(
                node,
                Op::Reshape {
                    shape: shape.clone(),
                },
            ),
            FOp::Transpose { perm } => self.wiring(node, Op::Transpose { perm: perm.clone() }),
            FOp::Slice {
                starts,
                lens,
                steps,
            } => self.wiring(
                node,
                Op::Slice {
                    starts: starts.clone(),
                    lens: lens.clone(),
                    steps: steps.clone(),
                },
            ),
            FOp::Gather {
                axis,
                indices_shape,
                indices,
            } => self.wiring(
                node,
                Op::Gather {
                    axis: *axis,
                    indices_shape: indices_shape.clone(),
                    indices: indices.clone(),
                },
            ),
            FOp::Pad {
                begin,
                end,
                interior,
                value,
            } => {
                let x = self.get(ins[0], name)?;
                let v = (*value as f64 / x.scale).round();
                let r = self.b.info(x.id).range;
                let v = v.clamp(r.lo as f64 - 1.0, r.hi as f64 + 1.0) as i64;
                let id = self.b.node(
                    name,
                    Op::Pad {
                        begin: begin.clone(),
                        end: end.clone(),
                        interior: interior.clone(),
                        value: v,
                    },
                    &[x.id],
                    Some(x.scale),
                )?;
                self.set(out, id, x.scale);
                Ok(())
            }
            FOp::Concat { axis } => self.concat(node, *axis),
            FOp::GatherDynamic { axis } => {
                let data = self.get(ins[0], name)?;
                let idx = self.map[ins[1]].ok_or_else(|| {
                    self.unsupported(node, "gather indices must come from an integer model input")
                })?;
                if self.b.info(idx.id).scale.is_some() {
                    return Err(self.unsupported(
                        node,
                        "gather indices must be an integer (token id) model input",
                    ));
                }
                let id = self.b.node(
                    name,
                    Op::GatherDynamic { axis: *axis },
                    &[data.id, idx.id],
                    Some(data.scale),
                )?;
                self.set(out, id, data.scale);
                Ok(())
            }
            FOp::Where { cond_shape, cond } => {
                let (scale, r) = self.act(out);
                let mut sides = [TensorId(0); 2];
                for (k, side) in sides.iter_mut().enumerate() {
                    let t = ins[k];
                    *side = match self.konst(t) {
                        Some(v) => {
                            let data = v
                                .iter()
                                .map(|&x| ((x as f64 / scale).round() as i64).clamp(r.lo, r.hi))
                                .collect();
                            let n = format!("{name}/branch{k}");
                            self.b
                                .weight(&n, self.shape(t).to_vec(), data, Some(scale))?
                        }
                        None => {
                            let q = self.get(t, name)?;
                            self.rescale(&format!("{name}/rescale{k}"), q, scale, r)?
                        }
                    };
                }
                let id = self.b.node(
                    name,
                    Op::Where {
                        cond_shape: cond_shape.clone(),
                        cond: cond.clone(),
                    },
                    &sides,
                    Some(scale),
                )?;
                self.set(out, id, scale);
                Ok(())
            }
        }
    }

    /// Brings `q` to `scale` (a no-op when it is already there).
    fn rescale(
        &mut self,
        name: &str,
        q: QTensor,
        scale: f64,
        r: Range,
    ) -> Result<TensorId, QuantError> {
        if (q.scale - scale).abs() <= scale * 1e-12 && r.contains_range(&self.b.info(q.id).range) {
            return Ok(q.id);
        }
        self.requant(name, q.id, &[q.scale], None, scale, r)
    }

    fn wiring(&mut self, node: &FNode, op: Op) -> Result<(), QuantError> {
        let x = self.get(node.inputs[0], &node.name)?;
        let id = self.b.node(&node.name, op, &[x.id], Some(x.scale))?;
        self.set(node.output, id, x.scale);
        Ok(())
    }

    fn matmul(&mut self, node: &FNode) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let rank = self.shape(node.output).len();
        let n_cols = *self.shape(b).last().unwrap_or(&1);
        let (qa, qb, acc_scales, axis) = match (self.konst(a), self.konst(b)) {
            (_, Some(w)) => {
                let qa = self.get(a, name)?;
                let axis_len = if self.cfg.per_channel { n_cols } else { 1 };
                let (scales, data) = quantize_per_channel(w, axis_len, 1, self.cfg.weight_bits);
                let id =
                    self.b
                        .weight(&self.g.tensors[b].name, self.shape(b).to_vec(), data, None)?;
                let acc: Vec<f64> = scales.iter().map(|s| s * qa.scale).collect();
                (qa.id, id, acc, Some(rank - 1))
            }
            (Some(w), None) => {
                let qb = self.get(b, name)?;
                let (scales, data) = quantize_per_channel(w, 1, 1, self.cfg.weight_bits);
                let id =
                    self.b
                        .weight(&self.g.tensors[a].name, self.shape(a).to_vec(), data, None)?;
                (id, qb.id, vec![scales[0] * qb.scale], None)
            }
            (None, None) => {
                let qa = self.get(a, name)?;
                let qb = self.get(b, name)?;
                (qa.id, qb.id, vec![qa.scale * qb.scale], None)
            }
        };
        let (out, bias) = self.fuse_bias(node.output, n_cols);
        let mut args = vec![qa, qb];
        if let Some(c) = bias {
            let data = c
                .iter()
                .enumerate()
                .map(|(j, &v)| {
                    let s = acc_scales[if acc_scales.len() == 1 { 0 } else { j }];
                    (v as f64 / s).round() as i64
                })
                .collect();
            args.push(
                self.b
                    .weight(&format!("{name}/bias"), vec![n_cols], data, None)?,
            );
        }
        let acc = self
            .b
            .node(&format!("{name}/acc"), Op::MatMul, &args, None)?;
        let (out, clamp) = self.fuse_activation(out);
        let (scale, r) = self.out_params(out, clamp);
        let y = self.requant(name, acc, &acc_scales, axis, scale, r)?;
        self.set(out, y, scale);
        Ok(())
    }

    fn conv(&mut self, node: &FNode, window: &Window, groups: usize) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let x = self.get(node.inputs[0], name)?;
        let wt = node.inputs[1];
        let w = self
            .konst(wt)
            .ok_or_else(|| self.unsupported(node, "convolution weights must be constant"))?;
        let o = self.shape(wt)[0];
        let per = w.len() / o.max(1);
        let channels = if self.cfg.per_channel { o } else { 1 };
        let (scales, data) =
            quantize_per_channel(w, channels, per * o / channels.max(1), self.cfg.weight_bits);
        let wid = self.b.weight(
            &self.g.tensors[wt].name,
            self.shape(wt).to_vec(),
            data,
            None,
        )?;
        let acc_scales: Vec<f64> = scales.iter().map(|s| s * x.scale).collect();
        let mut args = vec![x.id, wid];
        if let Some(&bt) = node.inputs.get(2) {
            let bias = self
                .konst(bt)
                .ok_or_else(|| self.unsupported(node, "convolution bias must be constant"))?;
            let data = bias
                .iter()
                .enumerate()
                .map(|(j, &v)| {
                    let s = acc_scales[if acc_scales.len() == 1 { 0 } else { j }];
                    (v as f64 / s).round() as i64
                })
                .collect();
            args.push(
                self.b
                    .weight(&format!("{name}/bias"), vec![o], data, None)?,
            );
        }
        let acc = self.b.node(
            &format!("{name}/acc"),
            Op::Conv {
                window: window.clone(),
                groups,
            },
            &args,
            None,
        )?;
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        let y = self.requant(name, acc, &acc_scales, Some(1), scale, r)?;
        self.set(out, y, scale);
        Ok(())
    }

    fn add_sub(&mut self, node: &FNode, sub: bool) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        // An additive mask of 0 / large negative values (causal attention) becomes a Where
        // with a fill below anything the activation can reach.
        if !sub {
            for (x, m) in [(a, b), (b, a)] {
                if let (None, Some(mask)) = (self.konst(x), self.konst(m)) {
                    let is_mask = mask.iter().all(|&v| v == 0.0 || v <= MASK_NEG)
                        && mask.iter().any(|&v| v <= MASK_NEG);
                    if is_mask {
                        return self.additive_mask(node, x, m, mask);
                    }
                }
            }
        }
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        let bits = self.cfg.mult_bits;
        let mut terms = Vec::new();
        for t in [a, b] {
            terms.push(match self.konst(t) {
                Some(v) => Term::Const(v, self.shape(t)),
                None => Term::Act(self.get(t, name)?),
            });
        }
        // Largest ratio input scale / output scale fixes the common shift.
        let max_ratio = terms
            .iter()
            .map(|t| match t {
                Term::Act(q) => q.scale / scale,
                Term::Const(..) => 0.0,
            })
            .fold(1.0f64, f64::max);
        let bound = terms
            .iter()
            .map(|t| match t {
                Term::Act(q) => self.b.info(q.id).range.abs_max(),
                Term::Const(..) => 0,
            })
            .max()
            .unwrap_or(0);
        let shift = common_shift(max_ratio, bound.max(1) * 2, bits);
        let unit = scale / (1u64 << shift) as f64;
        let mut ids = Vec::new();
        for (k, t) in terms.iter().enumerate() {
            ids.push(match t {
                Term::Act(q) => {
                    let m = (q.scale / unit).round() as i64;
                    self.scale_exact(&format!("{name}/scale{k}"), q.id, m)?
                }
                Term::Const(v, shape) => {
                    let data = v
                        .iter()
                        .map(|&x| (x as f64 / unit).round() as i64)
                        .collect();
                    self.b
                        .weight(&format!("{name}/const{k}"), shape.to_vec(), data, None)?
                }
            });
        }
        let kind = if sub {
            BinaryKind::Sub
        } else {
            BinaryKind::Add
        };
        let sum = self
            .b
            .node(&format!("{name}/sum"), Op::Binary(kind), &ids, None)?;
        let y = self.b.node(
            name,
            Op::Requant {
                mults: vec![1],
                axis: None,
                shift,
                lo: r.lo,
                hi: r.hi,
            },
            &[sum],
            Some(scale),
        )?;
        self.set(out, y, scale);
        Ok(())
    }

    fn additive_mask(
        &mut self,
        node: &FNode,
        x: usize,
        m: usize,
        mask: &[f32],
    ) -> Result<(), QuantError> {
        let q = self.get(x, &node.name)?;
        let r = self.b.info(q.id).range;
        let fill = r.lo - (1i64 << self.cfg.lut_bits);
        let fill_id = self.b.weight(
            &format!("{}/fill", node.name),
            vec![],
            vec![fill],
            Some(q.scale),
        )?;
        let cond: Vec<bool> = mask.iter().map(|&v| v == 0.0).collect();
        let id = self.b.node(
            &node.name,
            Op::Where {
                cond_shape: self.shape(m).to_vec(),
                cond,
            },
            &[q.id, fill_id],
            Some(q.scale),
        )?;
        self.set(node.output, id, q.scale);
        Ok(())
    }

    /// Elementwise max / min: both sides brought to the output scale, then compared exactly.
    fn max_min(&mut self, node: &FNode, kind: BinaryKind) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        let mut ids = Vec::new();
        for (k, &t) in node.inputs.iter().enumerate() {
            ids.push(match self.konst(t) {
                Some(v) => {
                    let data = v
                        .iter()
                        .map(|&x| ((x as f64 / scale).round() as i64).clamp(r.lo, r.hi))
                        .collect();
                    let n = format!("{name}/const{k}");
                    self.b
                        .weight(&n, self.shape(t).to_vec(), data, Some(scale))?
                }
                None => {
                    let q = self.get(t, name)?;
                    self.rescale(&format!("{name}/rescale{k}"), q, scale, r)?
                }
            });
        }
        let y = self.b.node(name, Op::Binary(kind), &ids, Some(scale))?;
        self.set(out, y, scale);
        Ok(())
    }

    fn mul(&mut self, node: &FNode) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        let (x, c) = match (self.konst(a), self.konst(b)) {
            (None, Some(c)) => (a, Some((b, c))),
            (Some(c), None) => (b, Some((a, c))),
            _ => (a, None),
        };
        let y = match c {
            Some((_, c)) if c.len() == 1 => {
                let q = self.get(x, name)?;
                self.requant(name, q.id, &[q.scale * c[0] as f64], None, scale, r)?
            }
            Some((ct, c)) => {
                let q = self.get(x, name)?;
                let shape = self.shape(ct).to_vec();
                self.mul_const_tensor(name, "const", q, c, shape, scale, r)?
            }
            None => {
                let qa = self.get(a, name)?;
                let qb = self.get(b, name)?;
                let p = self.b.node(
                    &format!("{name}/prod"),
                    Op::Binary(BinaryKind::Mul),
                    &[qa.id, qb.id],
                    None,
                )?;
                self.requant(name, p, &[qa.scale * qb.scale], None, scale, r)?
            }
        };
        self.set(out, y, scale);
        Ok(())
    }

    /// `q * c` for a constant tensor `c` (quantized per tensor at weight precision), requantized
    /// to `scale` and clamped to `r`.
    #[allow(clippy::too_many_arguments)]
    fn mul_const_tensor(
        &mut self,
        name: &str,
        what: &str,
        q: QTensor,
        c: &[f32],
        shape: Vec<usize>,
        scale: f64,
        r: Range,
    ) -> Result<TensorId, QuantError> {
        let (s, data) = quantize_symmetric(c, self.cfg.weight_bits);
        let w = self
            .b
            .weight(&format!("{name}/{what}"), shape, data, None)?;
        let p = self.b.node(
            &format!("{name}/prod"),
            Op::Binary(BinaryKind::Mul),
            &[q.id, w],
            None,
        )?;
        self.requant(name, p, &[q.scale * s], None, scale, r)
    }

    fn div(&mut self, node: &FNode) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        if let Some(c) = self.konst(b) {
            if c.contains(&0.0) {
                return Err(self.unsupported(node, "division by a constant zero"));
            }
            let q = self.get(a, name)?;
            let y = if c.len() == 1 {
                self.requant(name, q.id, &[q.scale / c[0] as f64], None, scale, r)?
            } else {
                let inv: Vec<f32> = c.iter().map(|&v| 1.0 / v).collect();
                let shape = self.shape(b).to_vec();
                self.mul_const_tensor(name, "reciprocal", q, &inv, shape, scale, r)?
            };
            self.set(out, y, scale);
            return Ok(());
        }
        if self.stats[b].min <= 0.0 {
            return Err(self.unsupported(
                node,
                "division by a tensor that is not strictly positive on the calibration data",
            ));
        }
        let qb = self.get(b, name)?;
        let rb = self.b.info(qb.id).range;
        let den = self.b.node(
            &format!("{name}/den"),
            Op::Clamp {
                lo: 1,
                hi: rb.hi.max(1),
            },
            &[qb.id],
            Some(qb.scale),
        )?;
        let y = match self.konst(a) {
            Some(c) if c.len() == 1 => {
                // c / b: a reciprocal table over b's integer range.
                let table = LookupTable::generate(
                    TableFn::Reciprocal,
                    Range::new(1, rb.hi.max(1)),
                    qb.scale / c[0] as f64,
                    scale,
                    r,
                );
                self.b.node(name, Op::Lookup(table), &[den], Some(scale))?
            }
            _ => {
                let qa = self.get(a, name)?;
                // q = qa * 2^k / qb has scale sa / (sb 2^k): pick k so that this is
                // 2^DIV_GUARD_BITS times finer than the output scale (the requantization then
                // rounds once more), as far as the value bound allows.
                let ratio = qa.scale / (qb.scale * scale);
                let k = if ratio.is_finite() && ratio > 0.0 {
                    (ratio.log2().ceil() + f64::from(DIV_GUARD_BITS)).clamp(0.0, 60.0) as u32
                } else {
                    0
                };
                let ra = self.b.info(qa.id).range.abs_max();
                let k = (0..=k)
                    .rev()
                    .find(|&k| (ra << (k + 1)) + (rb.hi as i128) < PRODUCT_BOUND)
                    .unwrap_or(0);
                let q = self.b.node(
                    &format!("{name}/quot"),
                    Op::DivRound { shift: k },
                    &[qa.id, den],
                    None,
                )?;
                let qs = qa.scale / (qb.scale * (1u64 << k) as f64);
                self.requant(name, q, &[qs], None, scale, r)?
            }
        };
        self.set(out, y, scale);
        Ok(())
    }

    fn unary(&mut self, node: &FNode, f: UnaryFn) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let out = node.output;
        let q = self.get(node.inputs[0], name)?;
        let r = self.b.info(q.id).range;
        let func = match f {
            UnaryFn::Relu | UnaryFn::Clip { .. } => {
                let (lo, hi) = match f {
                    UnaryFn::Clip { lo, hi } => (lo, hi),
                    _ => (0.0, f32::INFINITY),
                };
                let qlo = if lo.is_finite() {
                    ((lo as f64 / q.scale).round() as i64).max(r.lo)
                } else {
                    r.lo
                };
                let qhi = if hi.is_finite() {
                    ((hi as f64 / q.scale).round() as i64).min(r.hi)
                } else {
                    r.hi
                };
                let id = self.b.node(
                    name,
                    Op::Clamp {
                        lo: qlo.min(qhi),
                        hi: qhi,
                    },
                    &[q.id],
                    Some(q.scale),
                )?;
                self.set(out, id, q.scale);
                return Ok(());
            }
            UnaryFn::Neg => {
                let id = self.b.node(
                    name,
                    Op::Requant {
                        mults: vec![-1],
                        axis: None,
                        shift: 0,
                        lo: -r.hi,
                        hi: -r.lo,
                    },
                    &[q.id],
                    Some(q.scale),
                )?;
                self.set(out, id, q.scale);
                return Ok(());
            }
            UnaryFn::LeakyRelu { alpha } => TableFn::LeakyRelu {
                alpha: alpha as f64,
            },
            UnaryFn::Sigmoid => TableFn::Sigmoid,
            UnaryFn::Tanh => TableFn::Tanh,
            UnaryFn::Exp => TableFn::Exp,
            UnaryFn::Log => TableFn::Log,
            UnaryFn::Sqrt => TableFn::Sqrt,
            UnaryFn::Reciprocal => TableFn::Reciprocal,
            UnaryFn::Erf => TableFn::Erf,
            UnaryFn::Gelu => TableFn::Gelu,
            UnaryFn::GeluTanh => TableFn::GeluTanh,
            UnaryFn::Abs => TableFn::Abs,
            UnaryFn::Softplus => TableFn::Softplus,
            UnaryFn::Silu => TableFn::Silu,
            UnaryFn::HardSigmoid { alpha, beta } => TableFn::HardSigmoid {
                alpha: alpha as f64,
                beta: beta as f64,
            },
            UnaryFn::HardSwish => TableFn::HardSwish,
        };
        let (x, xr) = self.table_input(name, q, node.inputs[0])?;
        let (scale, orange) = self.act(out);
        let table = LookupTable::generate(func, xr, x.scale, scale, orange);
        let id = self.b.node(name, Op::Lookup(table), &[x.id], Some(scale))?;
        self.set(out, id, scale);
        Ok(())
    }

    /// A table input no wider than `lut_bits`: requantized first when the tensor is wider.
    fn table_input(
        &mut self,
        name: &str,
        q: QTensor,
        t: usize,
    ) -> Result<(QTensor, Range), QuantError> {
        let r = self.b.info(q.id).range;
        if r.width() <= 1u128 << self.cfg.lut_bits {
            return Ok((q, r));
        }
        let (scale, range) = self.act_params(t, self.cfg.lut_bits);
        let id = self.requant(
            &format!("{name}/lut_in"),
            q.id,
            &[q.scale],
            None,
            scale,
            range,
        )?;
        Ok((QTensor { id, scale }, self.b.info(id).range))
    }

    /// softmax(x) = exp(x - max) / sum exp(x - max), with the exponentials from a table at scale
    /// 2^-16 and an exact rounded division; the output has scale 2^-k (see below).
    fn softmax(&mut self, node: &FNode, axis: usize) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let q = self.get(node.inputs[0], name)?;
        let keep = Op::Reduce {
            kind: ReduceKind::Max,
            axes: vec![axis],
            keep_dims: true,
        };
        let max = self.b.node(&format!("{name}/max"), keep, &[q.id], None)?;
        let d = self.b.node(
            &format!("{name}/shifted"),
            Op::Binary(BinaryKind::Sub),
            &[q.id, max],
            Some(q.scale),
        )?;
        // exp(-depth * scale) < 2^-17 rounds to zero, so deeper values need no table entries.
        let depth = ((EXP_BITS as f64 + 1.0) * std::f64::consts::LN_2 / q.scale).ceil() as i64;
        let depth = depth.clamp(1, (1i64 << self.cfg.lut_bits.max(16)) - 1);
        // x - max(x) <= 0 always; the clamp makes that visible to range analysis and cuts
        // off values too deep to matter.
        let lo = self.b.info(d).range.lo.clamp(-depth, 0);
        let d = self.b.node(
            &format!("{name}/floor"),
            Op::Clamp { lo, hi: 0 },
            &[d],
            Some(q.scale),
        )?;
        let one = 1i64 << EXP_BITS;
        let table = LookupTable::generate(
            TableFn::Exp,
            Range::new(lo, 0),
            q.scale,
            1.0 / one as f64,
            Range::new(0, one),
        );
        let e = self
            .b
            .node(&format!("{name}/exp"), Op::Lookup(table), &[d], None)?;
        let sum = self.b.node(
            &format!("{name}/sum"),
            Op::Reduce {
                kind: ReduceKind::Sum,
                axes: vec![axis],
                keep_dims: true,
            },
            &[e],
            None,
        )?;
        // The maximum's own term is exp(0) = 2^16, so the sum is at least 1: the clamp only
        // makes that visible to range analysis.
        let hi = self.b.info(sum).range.hi.max(1);
        let sum = self.b.node(
            &format!("{name}/sum_pos"),
            Op::Clamp { lo: 1, hi },
            &[sum],
            None,
        )?;
        // Output scale 2^-k with k chosen so the largest calibrated probability spans the
        // activation bits (near-uniform distributions over many classes need a fine scale).
        let levels = ((1u64 << self.cfg.act_bits) - 1) as f64;
        let max_p = self.stats[node.output].max.clamp(f32::MIN_POSITIVE, 1.0) as f64;
        let k = ((levels / max_p).log2().ceil() as u32).clamp(self.cfg.act_bits, 30);
        let scale = 1.0 / (1u64 << k) as f64;
        let y = self
            .b
            .node(name, Op::DivRound { shift: k }, &[e, sum], Some(scale))?;
        self.set(node.output, y, scale);
        Ok(())
    }

    /// Layer normalization over `axis..`: with c = D x - sum(x) (exact), sigma = floor(sqrt(
    /// sum c^2 + eps D^3 / s^2)) and n = c 2^k / sigma, |n| <= 2^k; then gamma and beta.
    fn layer_norm(&mut self, node: &FNode, axis: usize, eps: f32) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let q = self.get(node.inputs[0], name)?;
        let shape = self.shape(node.inputs[0]).to_vec();
        let axes: Vec<usize> = (axis..shape.len()).collect();
        let d: usize = shape[axis..].iter().product();
        let d_i = d as i64;
        let sum = self.b.node(
            &format!("{name}/sum"),
            Op::Reduce {
                kind: ReduceKind::Sum,
                axes: axes.clone(),
                keep_dims: true,
            },
            &[q.id],
            None,
        )?;
        let dx = self.scale_exact(&format!("{name}/dx"), q.id, d_i)?;
        let c = self.b.node(
            &format!("{name}/centered"),
            Op::Binary(BinaryKind::Sub),
            &[dx, sum],
            None,
        )?;
        let sq = self.b.node(
            &format!("{name}/sq"),
            Op::Binary(BinaryKind::Mul),
            &[c, c],
            None,
        )?;
        let ss = self.b.node(
            &format!("{name}/sumsq"),
            Op::Reduce {
                kind: ReduceKind::Sum,
                axes,
                keep_dims: true,
            },
            &[sq],
            None,
        )?;
        let eps_q = (eps as f64 * (d as f64).powi(3) / (q.scale * q.scale)).round() as i64;
        let eps_id = self
            .b
            .weight(&format!("{name}/eps"), vec![], vec![eps_q], None)?;
        let var = self.b.node(
            &format!("{name}/var"),
            Op::Binary(BinaryKind::Add),
            &[ss, eps_id],
            None,
        )?;
        let sigma = self
            .b
            .node(&format!("{name}/sigma"), Op::Sqrt, &[var], None)?;
        let hi = self.b.info(sigma).range.hi.max(1);
        let sigma = self.b.node(
            &format!("{name}/sigma_pos"),
            Op::Clamp { lo: 1, hi },
            &[sigma],
            None,
        )?;
        // n = c 2^k / sigma = z 2^k / sqrt(D), for the normalized value z.
        let k = self.cfg.act_bits + 4 + ((d as f64).sqrt().log2().ceil() as u32);
        let n = self.b.node(
            &format!("{name}/norm_raw"),
            Op::DivRound { shift: k },
            &[c, sigma],
            None,
        )?;
        // |c| <= sigma whenever sigma >= 1 (sigma^2 >= sum c^2 >= c^2), so |n| <= 2^k.
        let n = self.b.node(
            &format!("{name}/norm"),
            Op::Clamp {
                lo: -(1i64 << k),
                hi: 1i64 << k,
            },
            &[n],
            None,
        )?;
        let n_scale = (d as f64).sqrt() / (1u64 << k) as f64;
        let gamma = node.inputs.get(1).and_then(|&t| self.konst(t));
        let beta = node.inputs.get(2).and_then(|&t| self.konst(t));
        if node.inputs.len() > 1 && gamma.is_none() || node.inputs.len() > 2 && beta.is_none() {
            return Err(self.unsupported(node, "scale and bias must be constant"));
        }
        let (mut acc, mut acc_scale) = (n, n_scale);
        if let Some(gm) = gamma {
            let (gs, data) = quantize_symmetric(gm, self.cfg.weight_bits);
            let g_shape = self.shape(node.inputs[1]).to_vec();
            let w = self
                .b
                .weight(&format!("{name}/gamma"), g_shape, data, None)?;
            acc = self.b.node(
                &format!("{name}/scaled"),
                Op::Binary(BinaryKind::Mul),
                &[acc, w],
                None,
            )?;
            acc_scale *= gs;
        }
        if let Some(bt) = beta {
            if bt.iter().any(|&v| v != 0.0) {
                let data = bt
                    .iter()
                    .map(|&v| (v as f64 / acc_scale).round() as i64)
                    .collect();
                let b_shape = self.shape(node.inputs[2]).to_vec();
                let w = self
                    .b
                    .weight(&format!("{name}/beta"), b_shape, data, None)?;
                acc = self.b.node(
                    &format!("{name}/shifted"),
                    Op::Binary(BinaryKind::Add),
                    &[acc, w],
                    None,
                )?;
            }
        }
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        let y = self.requant(name, acc, &[acc_scale], None, scale, r)?;
        self.set(out, y, scale);
        Ok(())
    }

    fn avg_pool(
        &mut self,
        node: &FNode,
        window: &Window,
        count_include_pad: bool,
    ) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let q = self.get(node.inputs[0], name)?;
        let sum = self.b.node(
            &format!("{name}/sum"),
            Op::SumPool {
                window: window.clone(),
            },
            &[q.id],
            None,
        )?;
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        let area = (window.kernel[0] * window.kernel[1]) as f64;
        let padded = window.pads.iter().any(|&p| p > 0);
        let y = if count_include_pad || !padded {
            self.requant(name, sum, &[q.scale / area], None, scale, r)?
        } else {
            // Border windows hold fewer real elements: a per-position multiplier.
            let shape = self.shape(node.inputs[0]);
            let (h, w) = (shape[2], shape[3]);
            let out_shape = self.shape(out).to_vec();
            let (oh, ow) = (out_shape[2], out_shape[3]);
            let count = |o: usize, dim: usize, len: usize| {
                (0..window.kernel[dim])
                    .filter(|&k| {
                        let i = (o * window.strides[dim] + k * window.dilations[dim]) as i64
                            - window.pads[dim] as i64;
                        i >= 0 && i < len as i64
                    })
                    .count()
            };
            let ratios: Vec<f64> = (0..oh)
                .flat_map(|y| (0..ow).map(move |x| (y, x)))
                .map(|(y, x)| q.scale / ((count(y, 0, h) * count(x, 1, w)).max(1) as f64 * scale))
                .collect();
            let max_ratio = ratios.iter().copied().fold(0.0, f64::max);
            let bound = self.b.info(sum).range.abs_max();
            let min_ratio = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let shift = shift_for(min_ratio, max_ratio, bound, self.cfg.mult_bits);
            let data = ratios
                .iter()
                .map(|r| (r * (1u64 << shift) as f64).round() as i64)
                .collect();
            let m = self
                .b
                .weight(&format!("{name}/counts"), vec![1, 1, oh, ow], data, None)?;
            let p = self.b.node(
                &format!("{name}/weighted"),
                Op::Binary(BinaryKind::Mul),
                &[sum, m],
                None,
            )?;
            self.b.node(
                name,
                Op::Requant {
                    mults: vec![1],
                    axis: None,
                    shift,
                    lo: r.lo,
                    hi: r.hi,
                },
                &[p],
                Some(scale),
            )?
        };
        self.set(out, y, scale);
        Ok(())
    }

    fn reduce(
        &mut self,
        node: &FNode,
        kind: FReduce,
        axes: &[usize],
        keep_dims: bool,
    ) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let q = self.get(node.inputs[0], name)?;
        let ir_kind = match kind {
            FReduce::Sum | FReduce::Mean => ReduceKind::Sum,
            FReduce::Max => ReduceKind::Max,
            FReduce::Min => ReduceKind::Min,
        };
        let op = Op::Reduce {
            kind: ir_kind,
            axes: axes.to_vec(),
            keep_dims,
        };
        if matches!(kind, FReduce::Max | FReduce::Min) {
            let id = self.b.node(name, op, &[q.id], Some(q.scale))?;
            self.set(node.output, id, q.scale);
            return Ok(());
        }
        let sum = self.b.node(&format!("{name}/sum"), op, &[q.id], None)?;
        let shape = self.shape(node.inputs[0]);
        let n: usize = axes.iter().map(|&a| shape[a]).product();
        let div = if matches!(kind, FReduce::Mean) {
            n.max(1) as f64
        } else {
            1.0
        };
        let (out, clamp) = self.fuse_activation(node.output);
        let (scale, r) = self.out_params(out, clamp);
        let y = self.requant(name, sum, &[q.scale / div], None, scale, r)?;
        self.set(out, y, scale);
        Ok(())
    }

    fn concat(&mut self, node: &FNode, axis: usize) -> Result<(), QuantError> {
        let name = node.name.as_str();
        let qs: Vec<QTensor> = node
            .inputs
            .iter()
            .map(|&t| self.get(t, name))
            .collect::<Result<_, _>>()?;
        let same = qs
            .iter()
            .all(|q| (q.scale - qs[0].scale).abs() <= qs[0].scale * 1e-12);
        let (ids, scale) = if same {
            (qs.iter().map(|q| q.id).collect(), qs[0].scale)
        } else {
            let (scale, r) = self.act(node.output);
            let mut ids = Vec::new();
            for (k, q) in qs.iter().enumerate() {
                ids.push(self.rescale(&format!("{name}/rescale{k}"), *q, scale, r)?);
            }
            (ids, scale)
        };
        let id = self.b.node(name, Op::Concat { axis }, &ids, Some(scale))?;
        self.set(node.output, id, scale);
        Ok(())
    }
}

enum Term<'a> {
    Act(QTensor),
    Const(&'a [f32], &'a [usize]),
}

/// Symmetric per-tensor quantization to `bits`: (scale, values).
fn quantize_symmetric(v: &[f32], bits: u32) -> (f64, Vec<i64>) {
    let (scales, data) = quantize_per_channel(v, 1, v.len(), bits);
    (scales[0], data)
}

/// Symmetric quantization with one scale per channel. Element `i` belongs to channel
/// `(i / inner) % channels`, so `inner = 1` selects the last axis and `inner = numel /
/// channels` the first.
fn quantize_per_channel(
    v: &[f32],
    channels: usize,
    inner: usize,
    bits: u32,
) -> (Vec<f64>, Vec<i64>) {
    let channels = channels.max(1);
    let inner = inner.max(1);
    let qmax = ((1i64 << (bits - 1)) - 1) as f64;
    let mut amax = vec![0f64; channels];
    for (i, &x) in v.iter().enumerate() {
        let c = (i / inner) % channels;
        amax[c] = amax[c].max((x as f64).abs());
    }
    let scales: Vec<f64> = amax
        .iter()
        .map(|&a| if a > 0.0 { a / qmax } else { 1.0 / qmax })
        .collect();
    let data = v
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let s = scales[(i / inner) % channels];
            ((x as f64 / s).round()).clamp(-qmax, qmax) as i64
        })
        .collect();
    (scales, data)
}

/// Shift for multipliers approximating ratios in `[min_ratio, max_ratio]`: large enough that
/// the smallest ratio gets about `bits` bits of precision, but small enough that the largest
/// multiplier stays below 2^31 and `bound * multiplier` below the product bound.
fn shift_for(min_ratio: f64, max_ratio: f64, bound: i128, bits: u32) -> u32 {
    if max_ratio <= 0.0 || !max_ratio.is_finite() {
        return 0;
    }
    let min_ratio = if min_ratio > 0.0 {
        min_ratio
    } else {
        max_ratio
    };
    let mut shift = ((bits as f64 - 1.0 - min_ratio.log2().floor()).max(0.0) as u32).min(62);
    while shift > 0 {
        let m = (max_ratio * (1u64 << shift) as f64).round() as i128;
        if bound.saturating_mul(m) + (1i128 << shift) < PRODUCT_BOUND && m < (1i128 << 31) {
            break;
        }
        shift -= 1;
    }
    shift
}

/// Shift for a single ratio (see [`shift_for`]).
fn common_shift(max_ratio: f64, bound: i128, bits: u32) -> u32 {
    shift_for(max_ratio, max_ratio, bound, bits)
}

/// Fixed-point multipliers `m_i / 2^shift ~= ratio_i` sharing one shift.
fn multipliers(ratios: &[f64], bound: i128, bits: u32) -> (Vec<i64>, u32) {
    let max_ratio = ratios.iter().map(|r| r.abs()).fold(0.0, f64::max);
    let min_ratio = ratios
        .iter()
        .map(|r| r.abs())
        .filter(|&r| r > 0.0)
        .fold(f64::INFINITY, f64::min);
    let shift = shift_for(min_ratio, max_ratio, bound, bits);
    let mults = ratios
        .iter()
        .map(|r| (r * (1u64 << shift) as f64).round() as i64)
        .collect();
    (mults, shift)
}
