//! The float evaluator: the executable definition of [`FloatGraph`] and the kernels that
//! constant folding shares.
//!
//! Elementwise arithmetic runs in `f32` (as ONNX runtimes do); matmul, convolution, pooling,
//! reductions, softmax and layer norm accumulate in `f64`. Convolution and matmul are
//! parallelised with rayon. Kernels index freely because every caller has checked the shapes
//! with [`FOp::infer_shape`] first.

use rayon::prelude::*;
use vouch_ir::Window;

use crate::error::{OnnxError, Result};
use crate::graph::{numel, FDType, FOp, FloatGraph, ReduceKind};

/// A read-only tensor operand: shape and row-major data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct In<'a, T> {
    pub shape: &'a [usize],
    pub data: &'a [T],
}

impl FloatGraph {
    /// Evaluates the graph on `inputs` (one flat row-major vector per graph input, in
    /// [`FloatGraph::inputs`] order; I64 inputs such as token ids are passed as integral `f32`).
    /// Returns the value of every tensor, indexed by tensor id (constants included).
    pub fn eval(&self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        self.validate().map_err(OnnxError::invalid)?;
        if inputs.len() != self.inputs.len() {
            return Err(OnnxError::InputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        let mut values: Vec<Option<Vec<f32>>> =
            self.tensors.iter().map(|t| t.value.clone()).collect();
        for (i, (&id, data)) in self.inputs.iter().zip(inputs).enumerate() {
            let t = &self.tensors[id];
            let bad = |reason: String| OnnxError::BadInput {
                index: i,
                name: t.name.clone(),
                reason,
            };
            let n = numel(&t.shape).unwrap_or(usize::MAX);
            if data.len() != n {
                return Err(bad(format!(
                    "expected {n} values (shape {:?}), got {}",
                    t.shape,
                    data.len()
                )));
            }
            if let Some((j, v)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(bad(format!("value at flat index {j} is {v}")));
            }
            if t.dtype == FDType::I64 {
                if let Some((j, v)) = data.iter().enumerate().find(|(_, v)| v.fract() != 0.0) {
                    return Err(bad(format!(
                        "integer input has non-integral value {v} at flat index {j}"
                    )));
                }
            }
            values[id] = Some(data.clone());
        }
        for node in &self.nodes {
            let mut ins = Vec::with_capacity(node.inputs.len());
            for &t in &node.inputs {
                let data = values[t].as_deref().ok_or_else(|| {
                    OnnxError::invalid(format!("node '{}' reads an undefined tensor", node.name))
                })?;
                ins.push(In {
                    shape: self.tensors[t].shape.as_slice(),
                    data,
                });
            }
            let out_shape = &self.tensors[node.output].shape;
            let out = run(&node.op, &ins, out_shape).map_err(|reason| OnnxError::Eval {
                node: node.name.clone(),
                op: node.op.name().to_string(),
                reason,
            })?;
            values[node.output] = Some(out);
        }
        Ok(values.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Evaluates the graph and returns only the graph outputs, in order.
    pub fn eval_outputs(&self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let mut all = self.eval(inputs)?;
        Ok(self
            .outputs
            .iter()
            .map(|&o| std::mem::take(&mut all[o]))
            .collect())
    }
}

/// Runs one op on `f32` operands whose shapes have been checked against `out_shape`.
pub(crate) fn run(op: &FOp, ins: &[In<f32>], out_shape: &[usize]) -> Result<Vec<f32>, String> {
    let x = ins.first().copied().ok_or("op without inputs")?;
    Ok(match op {
        FOp::MatMul => matmul(x, ins[1], out_shape),
        FOp::Conv { window, groups } => {
            conv(x, ins[1], ins.get(2).copied(), window, *groups, out_shape)
        }
        FOp::Add => binary(x, ins[1], out_shape, |a, b| a + b),
        FOp::Sub => binary(x, ins[1], out_shape, |a, b| a - b),
        FOp::Mul => binary(x, ins[1], out_shape, |a, b| a * b),
        FOp::Div => binary(x, ins[1], out_shape, |a, b| a / b),
        FOp::Max => binary(x, ins[1], out_shape, f32::max),
        FOp::Min => binary(x, ins[1], out_shape, f32::min),
        FOp::Unary(f) => {
            let f = *f;
            if x.data.len() >= 1 << 16 {
                x.data
                    .par_iter()
                    .map(|&v| f.apply(f64::from(v)) as f32)
                    .collect()
            } else {
                x.data
                    .iter()
                    .map(|&v| f.apply(f64::from(v)) as f32)
                    .collect()
            }
        }
        FOp::Softmax { axis } => softmax(x, *axis),
        FOp::LayerNorm { axis, eps } => layer_norm(x, ins[1].data, ins[2].data, *axis, *eps),
        FOp::MaxPool { window } => pool(x, window, out_shape, None),
        FOp::AvgPool {
            window,
            count_include_pad,
        } => pool(x, window, out_shape, Some(*count_include_pad)),
        FOp::Reduce { kind, axes, .. } => reduce(x, *kind, axes, out_shape),
        FOp::Reshape { .. } => x.data.to_vec(),
        FOp::Transpose { perm } => transpose(x, perm),
        FOp::Slice { starts, steps, .. } => slice(x, starts, steps, out_shape),
        FOp::Concat { axis } => concat(ins, *axis, out_shape),
        FOp::Pad {
            begin,
            interior,
            value,
            ..
        } => pad(x, begin, interior, *value, out_shape),
        FOp::Gather { axis, indices, .. } => gather(x, *axis, indices),
        FOp::GatherDynamic { axis } => {
            let dim = x.shape[*axis];
            let mut idx = Vec::with_capacity(ins[1].data.len());
            for &v in ins[1].data {
                if v.fract() != 0.0 || !v.is_finite() {
                    return Err(format!("index {v} is not an integer"));
                }
                let i = v as i64;
                let j = if i < 0 { i + dim as i64 } else { i };
                if j < 0 || j >= dim as i64 {
                    return Err(format!("index {i} out of range for dimension {dim}"));
                }
                idx.push(j as usize);
            }
            gather(x, *axis, &idx)
        }
        FOp::Where { cond_shape, cond } => where_(
            In {
                shape: cond_shape,
                data: cond,
            },
            x,
            ins[1],
            out_shape,
        ),
    })
}

/// Row-major strides.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Strides of `shape` right-aligned to `out` with zeros on broadcast axes.
fn bcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let off = r - shape.len();
    let st = strides(shape);
    (0..r)
        .map(|i| {
            if i < off || shape[i - off] == 1 {
                0
            } else {
                st[i - off]
            }
        })
        .collect()
}

/// Calls `f` with the flat offsets into each of `K` broadcast operands, for every output
/// element in row-major order.
fn broadcast_walk<const K: usize>(
    out: &[usize],
    strides: [&[usize]; K],
    mut f: impl FnMut([usize; K]),
) {
    if numel(out).unwrap_or(0) == 0 {
        return;
    }
    let r = out.len();
    if r == 0 {
        f([0; K]);
        return;
    }
    let last = out[r - 1];
    let inner: [usize; K] = std::array::from_fn(|k| strides[k][r - 1]);
    let mut idx = vec![0usize; r - 1];
    let mut base = [0usize; K];
    loop {
        for j in 0..last {
            f(std::array::from_fn(|k| base[k] + j * inner[k]));
        }
        let mut d = r - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..K {
                base[k] += strides[k][d];
            }
            if idx[d] < out[d] {
                break;
            }
            for k in 0..K {
                base[k] -= strides[k][d] * out[d];
            }
            idx[d] = 0;
        }
    }
}

/// Elementwise binary op with numpy broadcasting.
pub(crate) fn binary<T: Copy, U>(
    a: In<T>,
    b: In<T>,
    out: &[usize],
    f: impl Fn(T, T) -> U,
) -> Vec<U> {
    if a.shape == out && b.shape == out {
        return a.data.iter().zip(b.data).map(|(&x, &y)| f(x, y)).collect();
    }
    if b.data.len() == 1 && a.shape == out {
        let y = b.data[0];
        return a.data.iter().map(|&x| f(x, y)).collect();
    }
    let sa = bcast_strides(a.shape, out);
    let sb = bcast_strides(b.shape, out);
    let mut v = Vec::with_capacity(numel(out).unwrap_or(0));
    broadcast_walk(out, [&sa, &sb], |[i, j]| v.push(f(a.data[i], b.data[j])));
    v
}

/// `cond ? a : b` with three-way broadcasting.
pub(crate) fn where_<T: Copy>(cond: In<bool>, a: In<T>, b: In<T>, out: &[usize]) -> Vec<T> {
    let sc = bcast_strides(cond.shape, out);
    let sa = bcast_strides(a.shape, out);
    let sb = bcast_strides(b.shape, out);
    let mut v = Vec::with_capacity(numel(out).unwrap_or(0));
    broadcast_walk(out, [&sc, &sa, &sb], |[c, i, j]| {
        v.push(if cond.data[c] { a.data[i] } else { b.data[j] })
    });
    v
}

/// Materialises `x` broadcast to `out`.
pub(crate) fn expand<T: Copy>(x: In<T>, out: &[usize]) -> Vec<T> {
    let s = bcast_strides(x.shape, out);
    let mut v = Vec::with_capacity(numel(out).unwrap_or(0));
    broadcast_walk(out, [&s], |[i]| v.push(x.data[i]));
    v
}

pub(crate) fn transpose<T: Copy>(x: In<T>, perm: &[usize]) -> Vec<T> {
    let st = strides(x.shape);
    let out: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let ps: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let mut v = Vec::with_capacity(x.data.len());
    broadcast_walk(&out, [&ps], |[i]| v.push(x.data[i]));
    v
}

pub(crate) fn slice<T: Copy>(x: In<T>, starts: &[usize], steps: &[i64], out: &[usize]) -> Vec<T> {
    let st = strides(x.shape);
    let base: isize = starts
        .iter()
        .zip(&st)
        .map(|(&s, &t)| (s * t) as isize)
        .sum();
    let mut v = Vec::with_capacity(numel(out).unwrap_or(0));
    if numel(out).unwrap_or(0) == 0 {
        return v;
    }
    // Walk with signed strides.
    let r = out.len();
    if r == 0 {
        v.push(x.data[0]);
        return v;
    }
    // A step only matters on axes that take more than one element (where it is bounded by
    // the dimension); elsewhere it may be anything.
    let ss: Vec<isize> = (0..r)
        .map(|d| {
            if out[d] > 1 {
                steps[d] as isize * st[d] as isize
            } else {
                0
            }
        })
        .collect();
    let mut idx = vec![0usize; r];
    let mut off = base;
    loop {
        v.push(x.data[off as usize]);
        let mut d = r;
        loop {
            if d == 0 {
                return v;
            }
            d -= 1;
            idx[d] += 1;
            off += ss[d];
            if idx[d] < out[d] {
                break;
            }
            off -= ss[d] * out[d] as isize;
            idx[d] = 0;
        }
    }
}

pub(crate) fn concat<T: Copy>(ins: &[In<T>], axis: usize, out: &[usize]) -> Vec<T> {
    let outer: usize = out[..axis].iter().product();
    let mut v = Vec::with_capacity(numel(out).unwrap_or(0));
    let chunks: Vec<usize> = ins
        .iter()
        .map(|x| x.shape[axis..].iter().product())
        .collect();
    for o in 0..outer {
        for (x, &c) in ins.iter().zip(&chunks) {
            v.extend_from_slice(&x.data[o * c..(o + 1) * c]);
        }
    }
    v
}

pub(crate) fn pad<T: Copy>(
    x: In<T>,
    begin: &[usize],
    interior: &[usize],
    value: T,
    out: &[usize],
) -> Vec<T> {
    let n = numel(out).unwrap_or(0);
    let mut v = vec![value; n];
    if x.data.is_empty() {
        return v;
    }
    let ost = strides(out);
    let r = x.shape.len();
    if r == 0 {
        v[0] = x.data[0];
        return v;
    }
    let step: Vec<usize> = (0..r).map(|i| ost[i] * (interior[i] + 1)).collect();
    let base: usize = (0..r).map(|i| begin[i] * ost[i]).sum();
    broadcast_walk(x.shape, [&step, &strides(x.shape)], |[o, i]| {
        v[base + o] = x.data[i];
    });
    v
}

pub(crate) fn gather<T: Copy>(x: In<T>, axis: usize, indices: &[usize]) -> Vec<T> {
    let outer: usize = x.shape[..axis].iter().product();
    let dim = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let mut v = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &i in indices {
            let s = (o * dim + i) * inner;
            v.extend_from_slice(&x.data[s..s + inner]);
        }
    }
    v
}

fn matmul(a: In<f32>, b: In<f32>, out: &[usize]) -> Vec<f32> {
    let r = out.len();
    let (m, n) = (out[r - 2], out[r - 1]);
    let k = a.shape[a.shape.len() - 1];
    let batch = &out[..r - 2];
    let nb: usize = batch.iter().product();
    // Offsets of each batch's matrix in a and b.
    let sa = bcast_strides(&a.shape[..a.shape.len() - 2], batch);
    let sb = bcast_strides(&b.shape[..b.shape.len() - 2], batch);
    let mut offs = Vec::with_capacity(nb);
    if batch.is_empty() {
        offs.push((0, 0));
    } else {
        broadcast_walk(batch, [&sa, &sb], |[i, j]| {
            offs.push((i * m * k, j * k * n))
        });
    }
    let mut y = vec![0f32; nb * m * n];
    if n == 0 {
        return y;
    }
    y.par_chunks_mut(n).enumerate().for_each(|(row, yr)| {
        let (bi, mi) = (row / m.max(1), row % m.max(1));
        let (ao, bo) = offs[bi];
        let arow = &a.data[ao + mi * k..ao + (mi + 1) * k];
        let mut acc = vec![0f64; n];
        for (kk, &av) in arow.iter().enumerate() {
            if av == 0.0 {
                continue;
            }
            let av = f64::from(av);
            let brow = &b.data[bo + kk * n..bo + (kk + 1) * n];
            for (s, &bv) in acc.iter_mut().zip(brow) {
                *s += av * f64::from(bv);
            }
        }
        for (o, s) in yr.iter_mut().zip(&acc) {
            *o = *s as f32;
        }
    });
    y
}

/// Range of output positions `o` in `0..out` with `o * stride + off - pad` inside `0..len`.
fn valid_range(out: usize, len: usize, stride: usize, off: usize, pad: usize) -> (usize, usize) {
    // o*stride + off >= pad  and  o*stride + off < len + pad
    let lo = if off >= pad {
        0
    } else {
        (pad - off).div_ceil(stride)
    };
    let hi = if len + pad > off {
        ((len + pad - off - 1) / stride + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

fn conv(
    x: In<f32>,
    w: In<f32>,
    bias: Option<In<f32>>,
    win: &Window,
    groups: usize,
    out: &[usize],
) -> Vec<f32> {
    let (c, h, wd) = (x.shape[1], x.shape[2], x.shape[3]);
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    let (oh, ow) = (out[2], out[3]);
    let og = o / groups.max(1);
    let [sh, sw] = win.strides;
    let [dh, dw] = win.dilations;
    let (pt, pl) = (win.pads[0], win.pads[1]);
    let plane = oh * ow;
    let mut y = vec![0f32; numel(out).unwrap_or(0)];
    if plane == 0 {
        return y;
    }
    y.par_chunks_mut(plane).enumerate().for_each(|(idx, yp)| {
        let (ni, oi) = (idx / o, idx % o);
        let g = oi / og.max(1);
        let mut acc = vec![0f64; plane];
        for ci in 0..cg {
            let ic = g * cg + ci;
            let xp = &x.data[(ni * c + ic) * h * wd..(ni * c + ic + 1) * h * wd];
            for a in 0..kh {
                let (oh_lo, oh_hi) = valid_range(oh, h, sh, a * dh, pt);
                for b in 0..kw {
                    let wv = w.data[((oi * cg + ci) * kh + a) * kw + b];
                    if wv == 0.0 {
                        continue;
                    }
                    let wv = f64::from(wv);
                    let (ow_lo, ow_hi) = valid_range(ow, wd, sw, b * dw, pl);
                    if ow_lo >= ow_hi {
                        continue;
                    }
                    for r in oh_lo..oh_hi {
                        let ih = r * sh + a * dh - pt;
                        let xrow = &xp[ih * wd..(ih + 1) * wd];
                        let arow = &mut acc[r * ow..(r + 1) * ow];
                        let iw0 = ow_lo * sw + b * dw - pl;
                        if sw == 1 {
                            let len = ow_hi - ow_lo;
                            for (s, &xv) in arow[ow_lo..ow_hi].iter_mut().zip(&xrow[iw0..iw0 + len])
                            {
                                *s += wv * f64::from(xv);
                            }
                        } else {
                            for (j, s) in arow[ow_lo..ow_hi].iter_mut().enumerate() {
                                *s += wv * f64::from(xrow[iw0 + j * sw]);
                            }
                        }
                    }
                }
            }
        }
        let bv = bias.map_or(0.0, |b| f64::from(b.data[oi]));
        for (yv, s) in yp.iter_mut().zip(&acc) {
            *yv = (s + bv) as f32;
        }
    });
    y
}

/// Kernel taps `k` in `0..taps` whose input position `base + k * dil - pad` lies in `0..len`,
/// as a range (the work of a window is bounded by the input, not the kernel size).
fn kernel_range(base: usize, pad: usize, len: usize, dil: usize, taps: usize) -> (usize, usize) {
    let lo = if pad > base {
        (pad - base).div_ceil(dil)
    } else {
        0
    };
    let hi = if len + pad > base {
        ((len + pad - base - 1) / dil + 1).min(taps)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Max pooling (`avg == None`) or average pooling (`Some(count_include_pad)`).
fn pool(x: In<f32>, win: &Window, out: &[usize], avg: Option<bool>) -> Vec<f32> {
    let (h, wd) = (x.shape[2], x.shape[3]);
    let (oh, ow) = (out[2], out[3]);
    let [kh, kw] = win.kernel;
    let [sh, sw] = win.strides;
    let [dh, dw] = win.dilations;
    let (pt, pl) = (win.pads[0], win.pads[1]);
    let plane = oh * ow;
    let mut y = vec![0f32; numel(out).unwrap_or(0)];
    if plane == 0 {
        return y;
    }
    y.par_chunks_mut(plane).enumerate().for_each(|(idx, yp)| {
        let xp = &x.data[idx * h * wd..(idx + 1) * h * wd];
        for r in 0..oh {
            let (a_lo, a_hi) = kernel_range(r * sh, pt, h, dh, kh);
            for q in 0..ow {
                let (b_lo, b_hi) = kernel_range(q * sw, pl, wd, dw, kw);
                let mut sum = 0f64;
                let mut mx = f32::NEG_INFINITY;
                let count = (a_hi - a_lo) * (b_hi - b_lo);
                for a in a_lo..a_hi {
                    let ih = r * sh + a * dh - pt;
                    for b in b_lo..b_hi {
                        let iw = q * sw + b * dw - pl;
                        let v = xp[ih * wd + iw];
                        sum += f64::from(v);
                        mx = mx.max(v);
                    }
                }
                yp[r * ow + q] = match avg {
                    None => {
                        if count == 0 {
                            f32::MIN
                        } else {
                            mx
                        }
                    }
                    Some(true) => (sum / (kh * kw) as f64) as f32,
                    Some(false) => {
                        if count == 0 {
                            0.0
                        } else {
                            (sum / count as f64) as f32
                        }
                    }
                };
            }
        }
    });
    y
}

fn softmax(x: In<f32>, axis: usize) -> Vec<f32> {
    let d = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let outer: usize = x.shape[..axis].iter().product();
    let mut y = vec![0f32; x.data.len()];
    let mut e = vec![0f64; d];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * d + j) * inner + i;
            let mx = (0..d)
                .map(|j| x.data[at(j)])
                .fold(f32::NEG_INFINITY, f32::max);
            let mut s = 0f64;
            for (j, ej) in e.iter_mut().enumerate() {
                *ej = (f64::from(x.data[at(j)]) - f64::from(mx)).exp();
                s += *ej;
            }
            for (j, ej) in e.iter().enumerate() {
                y[at(j)] = (ej / s) as f32;
            }
        }
    }
    y
}

fn layer_norm(x: In<f32>, gamma: &[f32], beta: &[f32], axis: usize, eps: f32) -> Vec<f32> {
    let inner: usize = x.shape[axis..].iter().product();
    let mut y = vec![0f32; x.data.len()];
    if inner == 0 {
        return y;
    }
    for (xr, yr) in x.data.chunks(inner).zip(y.chunks_mut(inner)) {
        let mean = xr.iter().map(|&v| f64::from(v)).sum::<f64>() / inner as f64;
        let var = xr
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / inner as f64;
        let inv = 1.0 / (var + f64::from(eps)).sqrt();
        for (j, (o, &v)) in yr.iter_mut().zip(xr).enumerate() {
            *o = ((f64::from(v) - mean) * inv * f64::from(gamma[j]) + f64::from(beta[j])) as f32;
        }
    }
    y
}

fn reduce(x: In<f32>, kind: ReduceKind, axes: &[usize], out: &[usize]) -> Vec<f32> {
    // Map every input element to its output slot: strides of the kept-dims output shape, zero
    // on reduced axes.
    let r = x.shape.len();
    let kept: Vec<usize> = (0..r)
        .map(|i| if axes.contains(&i) { 1 } else { x.shape[i] })
        .collect();
    let ks = strides(&kept);
    let os: Vec<usize> = (0..r)
        .map(|i| if axes.contains(&i) { 0 } else { ks[i] })
        .collect();
    let n = numel(out).unwrap_or(0);
    let init = match kind {
        ReduceKind::Sum | ReduceKind::Mean => 0.0,
        ReduceKind::Max => f64::NEG_INFINITY,
        ReduceKind::Min => f64::INFINITY,
    };
    let mut acc = vec![init; n];
    let xs = strides(x.shape);
    broadcast_walk(x.shape, [&os, &xs], |[o, i]| {
        let v = f64::from(x.data[i]);
        let a = &mut acc[o];
        *a = match kind {
            ReduceKind::Sum | ReduceKind::Mean => *a + v,
            ReduceKind::Max => a.max(v),
            ReduceKind::Min => a.min(v),
        };
    });
    let count: usize = axes.iter().map(|&a| x.shape[a]).product();
    acc.into_iter()
        .map(|a| match kind {
            ReduceKind::Mean => (a / count.max(1) as f64) as f32,
            _ => a as f32,
        })
        .collect()
}
